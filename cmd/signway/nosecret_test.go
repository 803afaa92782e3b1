package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signway/signway/internal/sigv4"
	"github.com/signway/signway/internal/testenv"
)

// Recognisable secrets for TestNoSecretAnywhere. Every one is long enough
// that finding it anywhere is a leak, not a coincidence.
const (
	nsEnvKeyID       = "AKIANOSECRETENV00001"
	nsEnvSecret      = "nsEnvSECRETaccessKeyDoNotLeak000000000001"
	nsEnvToken       = "nsEnvSESSIONtokenDoNotLeak0000000000000000000000000001"
	nsProcSecret     = "nsProcSECRETaccessKeyDoNotLeak00000000001"
	nsProcToken      = "nsProcSESSIONtokenDoNotLeak000000000000000000000000001"
	nsAPIKey         = "nsAPIKEYreportingDoNotLeak0000001"
	nsCallerKeyID    = "SWAYNOSECRET0001"
	nsCallerSecret   = "nsCallerSECRETaccessKeyDoNotLeak0000001"
	nsCallerToken    = "nsCallerSESSIONtokenDoNotLeak00000000000000000000001"
	nsJWTSignature   = "nsJWTsignatureDoNotLeak0000000000000000000001"
	nsJWTSubject     = "nsJWTsubjectDoNotLeak000000001"
	nsWrongAPIKey    = nsAPIKey + "-wrong"
	nsWrongSecret    = "nsCallerWRONGsecretDoNotLeak00000000001"
	nsWrongQueryKey  = "nsQuerySECRETsignatureDoNotLeak0000000001"
	nsCallerWISecret = "nsPerCallerSECRETaccessKeyDoNotLeak00001"
	nsCallerWIToken  = "nsPerCallerSESSIONtokenDoNotLeak000000000000000001"
)

// leakScanner collects everything signway said (responses, probes,
// metrics, logs, command output) and the secrets it must never say,
// including the signatures it computed, recorded where they arrived.
type leakScanner struct {
	mu      sync.Mutex
	secrets map[string]string  // secret -> what it is
	said    []string           // "where: text"
	allowed map[[2]string]bool // {where, secret}: shown to its own holder
}

// allow lets where show secret: only a caller's own secret, shown back to
// that caller.
func (s *leakScanner) allow(where, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowed[[2]string{where, secret}] = true
}

func (s *leakScanner) secret(what, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(v) >= 16 {
		s.secrets[v] = what
	}
}

func (s *leakScanner) saw(where, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.said = append(s.said, where+": "+text)
}

func (s *leakScanner) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for secret, what := range s.secrets {
		for _, text := range s.said {
			where, _, _ := strings.Cut(text, ": ")
			if i := strings.Index(text, secret); i >= 0 && !s.allowed[[2]string{where, secret}] {
				t.Errorf("%s leaks the %s: ...%s...", where, what, text[max(0, i-200):min(len(text), i+len(secret)+40)])
			}
		}
	}
}

// TestNoSecretAnywhere runs every error path it can reach with
// recognisable secrets, session tokens, callers' keys and tokens, and the
// signatures signway computes, then scans every response (status line,
// headers, body), /readyz, /metrics, `signway credentials check`, and every
// log line at debug level (JSON) for them.
//
// To cover a new path, add a route to the config and a request to the
// table; to cover a new kind of secret, register it with scan.secret.
func TestNoSecretAnywhere(t *testing.T) {
	scan := &leakScanner{secrets: map[string]string{}, allowed: map[[2]string]bool{}}
	for what, v := range map[string]string{
		"environment's secret key": nsEnvSecret, "environment's session token": nsEnvToken,
		"credential_process's secret key": nsProcSecret, "credential_process's session token": nsProcToken,
		"caller's API key": nsAPIKey, "caller's wrong API key": nsWrongAPIKey,
		"caller's SigV4 secret": nsCallerSecret, "caller's session token": nsCallerToken, "caller's wrong secret": nsWrongSecret,
		"caller's JWT signature": nsJWTSignature, "caller's JWT subject": nsJWTSubject,
		"caller's presigned signature":       nsWrongQueryKey,
		"per-caller credentials' secret key": nsCallerWISecret, "per-caller credentials' session token": nsCallerWIToken,
	} {
		scan.secret(what, v)
	}
	jwt := nsFakeJWT(time.Now().Add(time.Hour), nsJWTSubject)
	goodJWT := nsFakeJWT(time.Now().Add(time.Hour), nsJWTSubject+"-good")
	for _, tok := range []string{jwt, goodJWT} {
		scan.secret("caller's JWT", tok)
		scan.secret("caller's JWT payload", strings.Split(tok, ".")[1])
	}

	dir := t.TempDir()
	// A credential_process that prints a notice before its JSON (issue 12
	// item 1): the SDK's error quoted all of it.
	script := filepath.Join(dir, "creds.sh")
	writeFileT(t, script, 0o700, fmt.Sprintf("#!/bin/sh\necho 'notice: refreshed {\"Version\":1,\"AccessKeyId\":\"ASIANOSECRETPROC001\",\"SecretAccessKey\":\"%s\",\"SessionToken\":\"%s\"}'\n", nsProcSecret, nsProcToken))
	awsConfig := filepath.Join(dir, "aws-config")
	writeFileT(t, awsConfig, 0o600, "[profile junk]\ncredential_process = "+script+"\n")

	upstream := nsMismatchUpstream(t, scan)
	sts := nsSTS(t, scan, goodJWT)
	closed := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t)) // nothing listens there
	t.Setenv("NS_API_KEY", nsAPIKey)
	t.Setenv("NS_CALLER_SECRET", nsCallerSecret)
	cfg := writeConfig(t, fmt.Sprintf(`listen: {address: 127.0.0.1:%d}
utility: {address: 127.0.0.1:%d}
callers:
  - id: reporting
    api_keys: ["${NS_API_KEY}"]
  - id: agent
    sigv4_keys:
      - access_key_id: %[3]s
        secret_access_key: ${NS_CALLER_SECRET}
defaults:
  credentials: {source: env}
  retries: {max_attempts: 1}
routes:
  - {name: mismatch-query, url: %[4]s/bucket, service: s3, region: us-east-1, signing: {mode: query}, match: {path_prefix: /mq}, strip_prefix: /mq}
  - {name: mismatch-header, url: %[4]s, service: execute-api, region: us-east-1, match: {path_prefix: /mh}}
  - name: sts-down
    url: %[4]s
    service: execute-api
    region: us-east-1
    match: {path_prefix: /stsdown}
    credentials: {source: env, assume_role: {role_arn: "arn:aws:iam::123456789012:role/down", sts_endpoint: %[5]s}}
  - name: sts-refuses
    url: %[4]s
    service: execute-api
    region: us-east-1
    match: {path_prefix: /stsrefuses}
    credentials: {source: env, assume_role: {role_arn: "arn:aws:iam::123456789012:role/refused", sts_endpoint: %[6]s}}
  - name: process-junk
    url: %[4]s
    service: execute-api
    region: us-east-1
    match: {path_prefix: /process}
    credentials: {source: process, profile: junk}
  - name: caller
    url: %[4]s
    service: execute-api
    region: us-east-1
    match: {path_prefix: /caller/}
    credentials: {source: caller_web_identity, web_identity: {role_arn: "arn:aws:iam::123456789012:role/caller", sts_endpoint: %[6]s, return_sts_error: true}}
  - name: caller-sts-down
    url: %[4]s
    service: execute-api
    region: us-east-1
    match: {path_prefix: /callerdown}
    credentials: {source: caller_web_identity, web_identity: {role_arn: "arn:aws:iam::123456789012:role/caller", sts_endpoint: %[5]s}}
  - {name: upstream-down, url: %[5]s, service: s3, region: us-east-1, signing: {mode: query}, match: {path_prefix: /updown}}
  - name: authed
    url: %[4]s
    service: execute-api
    region: us-east-1
    match: {path_prefix: /authed}
    auth: {methods: [api_key, sigv4], api_key_header: api-key, allow: [reporting, agent]}
`, testenv.FreePort(t), testenv.FreePort(t), nsCallerKeyID, upstream.URL, closed, sts.URL))

	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": nsEnvKeyID, "AWS_SECRET_ACCESS_KEY": nsEnvSecret, "AWS_SESSION_TOKEN": nsEnvToken,
		"AWS_CONFIG_FILE": awsConfig, "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"), "AWS_PROFILE": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"} {
		t.Setenv(k, v)
	}
	proxyURL, utilityURL, _, _, logs := startRunNow(t, "--config", cfg, "--log-level", "debug", "--log-format", "json")

	signed := func(secret, token string) func(r *http.Request) {
		return func(r *http.Request) {
			if token != "" {
				r.Header.Set("X-Amz-Security-Token", token)
			}
			err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: nsCallerKeyID, SecretAccessKey: secret},
				r, v4EmptyHash, "execute-api", "us-east-1", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			sig := r.Header.Get("Authorization")
			scan.secret("caller's signature", sig[strings.LastIndex(sig, "=")+1:])
		}
	}
	header := func(k, v string) func(r *http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	requests := []struct {
		name, path string
		prepare    func(r *http.Request)
		wantStatus int
	}{
		{"signature mismatch, query signing", "/mq/k?X-Amz-Signature=" + nsWrongQueryKey, nil, http.StatusForbidden},
		{"signature mismatch, header signing", "/mh/x", nil, http.StatusForbidden},
		{"STS down", "/stsdown/x", nil, http.StatusServiceUnavailable},
		{"STS refuses the role", "/stsrefuses/x", nil, http.StatusServiceUnavailable},
		{"credential_process prints junk", "/process/x", nil, http.StatusServiceUnavailable},
		{"caller token refused by STS", "/caller/x", header("Authorization", "Bearer "+jwt), http.StatusBadRequest},
		{"caller token refused again (negative cache)", "/caller/x", header("Authorization", "Bearer "+jwt), http.StatusBadRequest},
		{"caller token, STS down", "/callerdown/x", header("Authorization", "Bearer "+jwt), http.StatusServiceUnavailable},
		{"caller without a token", "/caller/x", nil, http.StatusUnauthorized},
		{"caller token accepted, upstream mismatch", "/caller/x", header("Authorization", "Bearer "+goodJWT), http.StatusForbidden},
		{"upstream down, query signing", "/updown/x", nil, http.StatusBadGateway},
		{"wrong API key", "/authed/x", header("api-key", nsWrongAPIKey), http.StatusUnauthorized},
		{"right API key, upstream mismatch", "/authed/x", header("api-key", nsAPIKey), http.StatusForbidden},
		{"caller's SigV4 with the wrong secret and a session token", "/authed/x", signed(nsWrongSecret, nsCallerToken), http.StatusForbidden},
		{"caller's SigV4, upstream mismatch", "/authed/x", signed(nsCallerSecret, ""), http.StatusForbidden},
		// API keys in other places a caller may put them (query, a
		// Bearer header) go here once the callers feature takes them.
	}
	// Like AWS, signway's inbound verification shows a caller whose
	// signature it refuses the canonical request it computed, with the
	// caller's own session token: the caller's, shown to the caller.
	scan.allow("caller's SigV4 with the wrong secret and a session token (response)", nsCallerToken)
	client := &http.Client{Timeout: 30 * time.Second}
	for _, rq := range requests {
		req, err := http.NewRequest(http.MethodGet, proxyURL+rq.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rq.prepare != nil {
			rq.prepare(req)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", rq.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var hdr bytes.Buffer
		resp.Header.Write(&hdr)
		scan.saw(rq.name+" (response)", resp.Status+"\n"+hdr.String()+"\n"+string(body))
		// The status shows the path ran; a different one is worth a look
		// but is not this test's failure.
		if resp.StatusCode != rq.wantStatus {
			t.Logf("%s: status %d, expected %d: %s", rq.name, resp.StatusCode, rq.wantStatus, body)
		}
		if resp.StatusCode < 400 {
			t.Errorf("%s: status %d; this path must fail", rq.name, resp.StatusCode)
		}
	}
	for _, p := range []string{"/readyz", "/metrics", "/healthz"} {
		code, body := get(t, client, utilityURL+p)
		scan.saw(p, fmt.Sprintf("%d %s", code, body))
	}
	var out, errOut bytes.Buffer
	err := runCredentials(context.Background(), []string{"check", "--source", "process", "--profile", "junk"}, &out, &errOut)
	if err == nil {
		t.Error("credentials check of the junk credential_process succeeded")
	} else {
		scan.saw("signway credentials check", out.String()+errOut.String()+err.Error())
	}

	var sawDebug, sawMismatch bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		sawDebug = sawDebug || rec["level"] == "DEBUG"
		sawMismatch = sawMismatch || strings.Contains(line, "X-Amz-Security-Token=<redacted")
		scan.saw("log", line)
	}
	if !sawDebug {
		t.Error("no debug line was logged: the scan would miss what debug logging says")
	}
	if !sawMismatch {
		t.Error("no diagnosis of the query-signed mismatch was logged: that path did not run")
	}
	scan.mu.Lock()
	if len(scan.secrets) < 20 {
		t.Errorf("only %d secrets to look for: the upstream recorded no signatures", len(scan.secrets))
	}
	scan.mu.Unlock()
	scan.check(t)
}

const v4EmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func nsFakeJWT(exp time.Time, sub string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." +
		enc(map[string]any{"iss": "https://idp.example", "aud": "sts.amazonaws.com", "sub": sub, "exp": exp.Unix()}) +
		"." + nsJWTSignature
}

// nsMismatchUpstream refuses every signature the way S3 (XML) and other
// services (JSON) do, saying what it computed, with a secret it does not
// share with signway; it records each signature it got.
func nsMismatchUpstream(t *testing.T, scan *leakScanner) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth := r.Header.Get("Authorization"); auth != "" {
			scan.secret("signature signway computed", auth[strings.LastIndex(auth, "=")+1:])
		}
		if sig := r.URL.Query().Get("X-Amz-Signature"); sig != "" {
			scan.secret("signature signway computed", sig)
		}
		_, err := sigv4.Verify(r, sigv4.VerifyOptions{Now: time.Now(), Lookup: func(string) (sigv4.Credentials, error) {
			return sigv4.Credentials{SecretAccessKey: "the-upstream-has-another-secret"}, nil
		}})
		var ve *sigv4.VerifyError
		if !errors.As(err, &ve) {
			http.Error(w, fmt.Sprintf("want a signature mismatch, got %v", err), http.StatusTeapot)
			return
		}
		// A hop that added a parameter: the diagnosis names the query.
		lines := strings.Split(ve.CanonicalRequest, "\n")
		lines[2] = "X-Amz-Added=1&" + lines[2]
		creq := strings.Join(lines, "\n")
		w.WriteHeader(http.StatusForbidden)
		if strings.Contains(r.URL.Path, "bucket") {
			b, _ := xml.Marshal(struct {
				XMLName          xml.Name `xml:"Error"`
				Code             string   `xml:"Code"`
				CanonicalRequest string   `xml:"CanonicalRequest"`
				StringToSign     string   `xml:"StringToSign"`
			}{Code: "SignatureDoesNotMatch", CanonicalRequest: creq, StringToSign: ve.StringToSign})
			w.Write(b)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"message": "The request signature we calculated does not match the signature you provided.\n\nThe Canonical String for this request should have been\n'" + creq + "'\n\nThe String-to-Sign should have been\n'" + ve.StringToSign + "'\n"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// nsSTS refuses AssumeRole with AccessDenied and AssumeRoleWithWebIdentity
// with InvalidIdentityToken, each message quoting what a careless STS
// might: the secret that signed the call, the caller's token. It accepts
// goodJWT, for per-caller credentials.
func nsSTS(t *testing.T, scan *leakScanner, goodJWT string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if auth := r.Header.Get("Authorization"); auth != "" {
			scan.secret("signature of the call to STS", auth[strings.LastIndex(auth, "=")+1:])
		}
		w.Header().Set("Content-Type", "text/xml")
		code, status, msg := "AccessDenied", http.StatusForbidden, "User is not authorized to perform sts:AssumeRole; signed with "+nsEnvSecret+" and "+nsEnvToken
		if r.Form.Get("WebIdentityToken") == goodJWT {
			fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>
<AccessKeyId>ASIANOSECRETCALLER01</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken>
<Expiration>%s</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
				nsCallerWISecret, nsCallerWIToken, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
			return
		}
		if r.Form.Get("Action") == "AssumeRoleWithWebIdentity" {
			code, status, msg = "InvalidIdentityToken", http.StatusBadRequest, "Incorrect token audience in "+r.Form.Get("WebIdentityToken")
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, msg)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeFileT(t *testing.T, path string, mode os.FileMode, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
