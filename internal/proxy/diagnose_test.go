package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// TestSignatureMismatchIsDiagnosed: upstreams that refuse a signature and
// say what they computed, in S3's XML and in other services' JSON message.
func TestSignatureMismatchIsDiagnosed(t *testing.T) {
	// The upstream computes the canonical request from the request it got,
	// with a twist that stands for a hop rewriting the path.
	answer := func(style string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, err := sigv4.Verify(r, sigv4.VerifyOptions{Now: time.Now(), Lookup: func(string) (sigv4.Credentials, error) {
				return sigv4.Credentials{SecretAccessKey: "not-what-signway-has"}, nil
			}})
			var ve *sigv4.VerifyError
			if !errors.As(err, &ve) {
				t.Errorf("want a mismatch, got %v", err)
				return
			}
			creq := ve.CanonicalRequest
			lines := strings.Split(creq, "\n")
			switch style {
			case "xml", "json":
				lines[1] = "/bucket/a+b" // the path as a rewriting hop left it
			case "query":
				// A hop that adds a parameter; in query signing the
				// session token is in the canonical query too.
				lines[2] = "X-Amz-Added=1&" + lines[2]
			}
			creq = strings.Join(lines, "\n")
			w.WriteHeader(http.StatusForbidden)
			switch style {
			case "json", "query":
				json.NewEncoder(w).Encode(map[string]string{"message": "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'" + creq + "'\n\nThe String-to-Sign should have been\n'" + ve.StringToSign + "'\n"})
			default:
				b, _ := xml.Marshal(struct {
					XMLName          xml.Name `xml:"Error"`
					Code             string   `xml:"Code"`
					CanonicalRequest string   `xml:"CanonicalRequest"`
					StringToSign     string   `xml:"StringToSign"`
				}{Code: "SignatureDoesNotMatch", CanonicalRequest: creq, StringToSign: ve.StringToSign})
				w.Write(b)
			}
		}
	}
	tests := []struct {
		style, service, part, says string
		signQuery                  bool
	}{
		{"xml", "s3", "path", `path differs: signway signed \"/bucket/a%20b\", the upstream computed \"/bucket/a+b\"`, false},
		{"json", "execute-api", "path", `path differs: signway signed \"/bucket/a%2520b\"`, false},
		{"wrong-secret", "s3", "none", "the secret access key is wrong", false},
		// Issue 12 item 7: the token was logged in "query differs".
		{"query", "execute-api", "query", `query differs: signway signed \"X-Amz-Algorithm=`, true},
	}
	for _, tt := range tests {
		t.Run(tt.style, func(t *testing.T) {
			up := httptest.NewServer(answer(tt.style))
			defer up.Close()
			var logs bytes.Buffer
			m := &recordingMetrics{}
			p, err := New(Options{Route: &Route{Name: "d", Target: mustURL(t, up.URL), Service: tt.service, Region: "us-east-1", SignQuery: tt.signQuery,
				Credentials: func(context.Context) (sigv4.Credentials, error) { return testCreds, nil }},
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(p)
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/bucket/a%20b")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || !bytes.Contains(body, []byte("SignatureDoesNotMatch")) && !bytes.Contains(body, []byte("does not match")) {
				t.Fatalf("the upstream's answer did not reach the caller intact: %d %s", resp.StatusCode, body)
			}
			// The upstream quotes the canonical request with signway's
			// session token in it: the caller gets it redacted.
			if bytes.Contains(body, []byte(testCreds.SessionToken)) || !bytes.Contains(body, []byte("REDACTED-BY-SIGNWAY")) {
				t.Errorf("the session token is not redacted from the upstream's answer:\n%s", body)
			}
			if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %s for a %d-byte body", cl, len(body))
			}
			if got := resp.Header.Get("X-Signway-Signature-Mismatch"); got != tt.part {
				t.Errorf("X-Signway-Signature-Mismatch = %q, want %q", got, tt.part)
			}
			if !strings.Contains(logs.String(), tt.says) {
				t.Errorf("the log does not say %q:\n%s", tt.says, logs.String())
			}
			if strings.Contains(logs.String(), testCreds.SessionToken) || strings.Contains(logs.String(), testCreds.SecretAccessKey) {
				t.Errorf("the diagnosis logs a secret:\n%s", logs.String())
			}
			if tt.signQuery && !strings.Contains(logs.String(), "X-Amz-Security-Token=<redacted ") {
				t.Errorf("the token's place is not marked redacted:\n%s", logs.String())
			}
			if len(m.signing) != 1 || m.signing[0] != "upstream_mismatch" {
				t.Errorf("signing error metric = %v", m.signing)
			}
		})
	}
}
