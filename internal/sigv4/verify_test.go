package sigv4

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var (
	verifyNow   = time.Date(2024, 5, 17, 10, 30, 0, 0, time.UTC)
	verifyCreds = Credentials{AccessKeyID: "AKIDSIGNWAYTEST", SecretAccessKey: "c2VjcmV0LXNpZ253YXktdGVzdC1rZXk+/=="}
	tokenCreds  = Credentials{AccessKeyID: "ASIASIGNWAYTEST", SecretAccessKey: "dG9rZW4tc2VjcmV0", SessionToken: "FwoGZXIvYXdzE//token+with/slashes=="}
)

// lookupOf knows exactly the given credentials, as an inbound key store would.
func lookupOf(creds ...Credentials) func(string) (Credentials, error) {
	return func(ak string) (Credentials, error) {
		for _, c := range creds {
			if c.AccessKeyID == ak {
				return c, nil
			}
		}
		return Credentials{}, fmt.Errorf("no such key %q", ak)
	}
}

// serverView returns r as a server receives it: written to the wire by the
// client code and parsed back by net/http's server code, so r.URL comes from
// the request line, r.Host from the Host header and header keys are
// canonicalised. It is how every round trip here is checked: verifying the
// client's own request object would hide any difference the wire makes.
func serverView(r *http.Request) (*http.Request, error) {
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		return nil, err
	}
	return http.ReadRequest(bufio.NewReader(&buf))
}

func newTestRequest(t testing.TB, method, target string, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatalf("NewRequest(%q): %v", target, err)
	}
	return r
}

type roundTrip struct {
	name    string
	method  string
	target  string // URL as a client would write it
	path    string // when set, r.URL.Path (decoded) is replaced: hostile keys
	headers [][2]string
	body    string
	service string
	creds   Credentials
	presign bool
	params  func(*Params)
}

func (c roundTrip) sign(t *testing.T) (*http.Request, *Params) {
	t.Helper()
	r := newTestRequest(t, c.method, c.target, c.body)
	if c.path != "" {
		r.URL.Path, r.URL.RawPath = c.path, ""
	}
	for _, h := range c.headers {
		r.Header.Add(h[0], h[1])
	}
	p := &Params{Service: c.service, Region: "eu-west-1", PayloadHash: sha256Hex([]byte(c.body))}
	if c.service == "s3" {
		p.ContentSHA256Header = !c.presign
		if c.presign {
			p.PayloadHash = UnsignedPayload
		}
	}
	if c.params != nil {
		c.params(p)
	}
	s := NewSigner(nil)
	var err error
	if c.presign {
		err = s.Presign(r, c.creds, p, verifyNow, 15*time.Minute)
	} else {
		err = s.Sign(r, c.creds, p, verifyNow)
	}
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return r, p
}

var roundTrips = []roundTrip{
	{name: "get/execute-api", method: "GET", target: "https://abc.execute-api.eu-west-1.amazonaws.com/prod/items?b=2&a=1", service: "execute-api", creds: verifyCreds},
	{name: "post-body/es", method: "POST", target: "https://search.eu-west-1.es.amazonaws.com/idx/_doc", body: `{"a":1}`, service: "es", creds: verifyCreds,
		headers: [][2]string{{"Content-Type", "application/json"}, {"X-Custom", "  a   b  "}, {"X-Custom", "c"}}},
	{name: "session-token/header", method: "GET", target: "https://abc.execute-api.eu-west-1.amazonaws.com/", service: "execute-api", creds: tokenCreds},
	{name: "session-token/query", method: "GET", target: "https://abc.execute-api.eu-west-1.amazonaws.com/", service: "execute-api", creds: tokenCreds, presign: true},
	{name: "session-token-after-signing", method: "GET", target: "https://abc.execute-api.eu-west-1.amazonaws.com/", service: "execute-api", creds: tokenCreds,
		params: func(p *Params) { p.TokenAfterSigning = true }},
	{name: "s3/hostile-key/header", method: "PUT", target: "https://bucket.s3.eu-west-1.amazonaws.com/", path: "/dir/a+b=c:d@e~f!g*h'i(j)k l;m,n$o&p%2Fq//r/./s/../t/ü€", body: "data", service: "s3", creds: verifyCreds},
	{name: "s3/hostile-key/query", method: "GET", target: "https://bucket.s3.eu-west-1.amazonaws.com/", path: "/a+b=c:d@e~f!g*h'i(j)k l%zz//x/../y", service: "s3", creds: verifyCreds, presign: true},
	{name: "s3/escaped-slash-in-key", method: "GET", target: "https://bucket.s3.eu-west-1.amazonaws.com/a%2Fb%2fc?x-id=GetObject&versionId=a+b", service: "s3", creds: tokenCreds},
	{name: "non-s3/hostile-path/header", method: "GET", target: "https://abc.execute-api.eu-west-1.amazonaws.com/", path: "/a b/+/=/:/@/~/!/*/'/(/)/%zz//./../ü", service: "execute-api", creds: verifyCreds},
	{name: "non-s3/hostile-path/query", method: "DELETE", target: "https://abc.execute-api.eu-west-1.amazonaws.com/", path: "//a//b/./c/../d e/+", service: "execute-api", creds: verifyCreds, presign: true},
	{name: "hostile-query", method: "GET", target: "https://abc.execute-api.eu-west-1.amazonaws.com/x?a=1&a=0&empty=&noeq&plus=a+b&sp=a%20b&res=%3A%2F%40!*'()&&u=%C3%BC", service: "execute-api", creds: verifyCreds},
	{name: "hostile-query/presign", method: "GET", target: "https://abc.execute-api.eu-west-1.amazonaws.com/x?a=1&a=0&empty=&noeq&plus=a+b&sp=a%20b&res=:/@!*'()", service: "execute-api", creds: verifyCreds, presign: true},
	{name: "s3/unsigned-payload", method: "PUT", target: "https://bucket.s3.eu-west-1.amazonaws.com/k", body: "streamed", service: "s3", creds: verifyCreds,
		params: func(p *Params) { p.PayloadHash = UnsignedPayload }},
}

// TestVerifyRoundTrip signs requests and verifies them as a server receives
// them, in both modes, with and without session tokens, S3 and non-S3 paths.
func TestVerifyRoundTrip(t *testing.T) {
	for _, c := range roundTrips {
		t.Run(c.name, func(t *testing.T) {
			r, p := c.sign(t)
			srv, err := serverView(r)
			if err != nil {
				t.Fatalf("the signed request does not survive the wire: %v", err)
			}
			opts := VerifyOptions{Now: verifyNow.Add(time.Minute), Lookup: lookupOf(verifyCreds, tokenCreds),
				Service: c.service, Region: "eu-west-1", PayloadHash: sha256Hex([]byte(c.body))}
			if p.PayloadHash == UnsignedPayload {
				opts.PayloadHash = "" // the caller verifies nothing about the body
			}
			v, err := Verify(srv, opts)
			if err != nil {
				var ve *VerifyError
				if errors.As(err, &ve) {
					t.Fatalf("%v\ncanonical request:\n%s", err, ve.CanonicalRequest)
				}
				t.Fatal(err)
			}
			if v.AccessKeyID != c.creds.AccessKeyID || v.Service != c.service || v.Region != "eu-west-1" ||
				v.Presigned != c.presign || !v.SignedAt.Equal(verifyNow) || v.Algorithm != algorithmV4 ||
				v.Credentials != c.creds || v.PayloadHash != p.payloadHash() {
				t.Errorf("Verified = %+v", v)
			}
			if v.SignedHeaders[0] != "host" && !strings.Contains(strings.Join(v.SignedHeaders, ";"), "host") {
				t.Errorf("SignedHeaders %v lacks host", v.SignedHeaders)
			}
			// The signed request object itself (what the client holds) verifies too.
			if c.body == "" {
				if _, err := Verify(r, opts); err != nil {
					t.Errorf("client-side object: %v", err)
				}
			}
		})
	}
}

// TestVerifyAWSCAuthSignedRequests verifies aws-c-auth's own signed requests
// (v4 header and query, v4a header and query): signatures made by another
// implementation. Only the normalising vectors apply, because the verifier
// takes the path mode from the service in the scope ("service" normalises).
func TestVerifyAWSCAuthSignedRequests(t *testing.T) {
	for _, alg := range []string{"v4", "v4a"} {
		dirs, _ := filepath.Glob(filepath.Join(vectorDir, alg, "*"))
		ran := 0
		for _, dir := range dirs {
			c := loadContext(t, dir)
			if !c.Normalize {
				continue
			}
			for _, mode := range []string{"header", "query"} {
				file := filepath.Join(dir, mode+"-signed-request.txt")
				if _, err := os.Stat(file); err != nil {
					continue
				}
				ran++
				t.Run(alg+"/"+filepath.Base(dir)+"/"+mode, func(t *testing.T) {
					if c.OmitSessionToken && mode == "query" {
						// The token was appended to the query after signing. SigV4
						// signs every query parameter but X-Amz-Signature, and so
						// does the verifier: it does not guess which were left out.
						t.Skip("query token added after signing is not part of SigV4's canonical query")
					}
					r, body := parseVectorRequest(t, []byte(readFile(t, file)))
					if r.Header.Get("X-Amz-Security-Token") == "" && c.Credentials.Token != "" && !c.OmitSessionToken {
						t.Skip("the vector's signed request lacks its session token")
					}
					creds := c.creds()
					if c.OmitSessionToken {
						creds.SessionToken = ""
					}
					v, err := Verify(r, VerifyOptions{Now: c.time(t), Lookup: lookupOf(creds), PayloadHash: sha256Hex(body), Service: c.Service, Region: c.Region})
					if err != nil {
						var ve *VerifyError
						errors.As(err, &ve)
						t.Fatalf("%v\n%s", err, ve.CanonicalRequest)
					}
					if alg == "v4a" && (v.Algorithm != algorithmV4A || strings.Join(v.RegionSet, ",") != c.Region) {
						t.Errorf("Verified = %+v", v)
					}
				})
			}
		}
		if ran < 40 {
			t.Errorf("%s: verified only %d signed requests", alg, ran)
		}
	}
}

// TestVerifyV4ARoundTrip signs with SigV4A in both modes and verifies,
// including region-set wildcards.
func TestVerifyV4ARoundTrip(t *testing.T) {
	for _, c := range []struct {
		name    string
		presign bool
		set     []string
		region  string
		kind    VerifyKind
	}{
		{name: "header", set: []string{"eu-west-1", "us-east-1"}, region: "us-east-1"},
		{name: "query", presign: true, set: []string{"*"}, region: "ap-south-2"},
		{name: "wildcard", set: []string{"us-*"}, region: "us-west-2"},
		{name: "outside-set", set: []string{"us-*"}, region: "eu-west-1", kind: ScopeMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newTestRequest(t, "GET", "https://bucket.s3-global.amazonaws.com/a:b?x=1+2", "")
			p := &Params{Service: "s3", PayloadHash: UnsignedPayload, ContentSHA256Header: !c.presign, Algorithm: SigV4A, RegionSet: c.set}
			s := NewSigner(nil)
			var err error
			if c.presign {
				err = s.Presign(r, verifyCreds, p, verifyNow, time.Hour)
			} else {
				err = s.Sign(r, verifyCreds, p, verifyNow)
			}
			if err != nil {
				t.Fatal(err)
			}
			srv, err := serverView(r)
			if err != nil {
				t.Fatal(err)
			}
			v, err := Verify(srv, VerifyOptions{Now: verifyNow, Lookup: lookupOf(verifyCreds), Region: c.region, Service: "s3"})
			if c.kind != 0 {
				checkKind(t, err, c.kind)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Algorithm != algorithmV4A || strings.Join(v.RegionSet, ",") != strings.Join(c.set, ",") || v.Region != "" {
				t.Errorf("Verified = %+v", v)
			}
			// Any change to the request breaks the ECDSA signature too.
			srv.URL.RawQuery = strings.Replace(srv.URL.RawQuery, "x=1", "x=9", 1)
			_, err = Verify(srv, VerifyOptions{Now: verifyNow, Lookup: lookupOf(verifyCreds)})
			checkKind(t, err, SignatureMismatch)
		})
	}
}

func checkKind(t *testing.T, err error, kind VerifyKind) *VerifyError {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *VerifyError of kind %v", err, err, kind)
	}
	if ve.Kind != kind {
		t.Fatalf("kind = %v, want %v: %v", ve.Kind, kind, err)
	}
	if !errors.Is(err, kind.sentinel()) {
		t.Errorf("errors.Is(err, %v) is false", kind.sentinel())
	}
	for k := Malformed; k <= ScopeMismatch; k++ {
		if k != kind && errors.Is(err, k.sentinel()) {
			t.Errorf("errors.Is(err, %v) is true for a %v error", k.sentinel(), kind)
		}
	}
	if ve.Detail == "" || !strings.Contains(err.Error(), ve.Detail) {
		t.Errorf("Error() %q lacks the detail", err.Error())
	}
	return ve
}

// signedFixture is one signed request in server view, for the error cases.
func signedFixture(t *testing.T, presign bool, creds Credentials, mutate func(r *http.Request)) *http.Request {
	t.Helper()
	r := newTestRequest(t, "PUT", "https://bucket.s3.eu-west-1.amazonaws.com/dir/key.txt?tagging=&v=1", "hello")
	r.Header.Set("X-Amz-Meta-Owner", "alice")
	p := &Params{Service: "s3", Region: "eu-west-1", PayloadHash: sha256Hex([]byte("hello")), ContentSHA256Header: !presign}
	if presign {
		p.PayloadHash = UnsignedPayload
	}
	if mutate != nil {
		mutate(r)
	}
	var err error
	if presign {
		err = NewSigner(nil).Presign(r, creds, p, verifyNow, time.Hour)
	} else {
		err = NewSigner(nil).Sign(r, creds, p, verifyNow)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serverView(r)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func baseOpts() VerifyOptions {
	return VerifyOptions{Now: verifyNow, Lookup: lookupOf(verifyCreds, tokenCreds), Service: "s3", Region: "eu-west-1"}
}

// TestVerifyErrors triggers every kind of failure and checks it with
// errors.Is and errors.As, and that no message leaks the secret or the
// expected signature.
func TestVerifyErrors(t *testing.T) {
	setAuth := func(f func(string) string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", f(r.Header.Get("Authorization"))) }
	}
	setQuery := func(f func(string) string) func(*http.Request) {
		return func(r *http.Request) { r.URL.RawQuery = f(r.URL.RawQuery) }
	}
	cases := []struct {
		name     string
		presign  bool
		creds    Credentials
		before   func(*http.Request) // before signing
		after    func(*http.Request) // on the received request
		opts     func(*VerifyOptions)
		kind     VerifyKind
		contains string
	}{
		{name: "ok/header"},
		{name: "ok/query", presign: true},
		{name: "unsigned", after: func(r *http.Request) { r.Header.Del("Authorization") }, kind: Malformed, contains: "not signed"},
		{name: "two-auth-headers", after: func(r *http.Request) { r.Header.Add("Authorization", "x") }, kind: Malformed},
		{name: "both-mechanisms", after: setQuery(func(q string) string { return q + "&X-Amz-Signature=00" }), kind: Malformed, contains: "both"},
		{name: "bad-algorithm", after: setAuth(func(a string) string { return strings.Replace(a, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1) }), kind: Malformed, contains: "unsupported algorithm"},
		{name: "no-credential", after: setAuth(func(a string) string { return strings.Replace(a, "Credential=", "Cred=", 1) }), kind: Malformed},
		{name: "short-credential", after: setAuth(func(a string) string { return strings.Replace(a, "/eu-west-1", "", 1) }), kind: Malformed, contains: "form"},
		{name: "no-signature", after: setAuth(func(a string) string { a, _, _ = strings.Cut(a, ", Signature="); return a }), kind: Malformed, contains: "Signature="},
		{name: "short-signature", after: setAuth(func(a string) string { return a[:len(a)-2] }), kind: Malformed, contains: "64"},
		{name: "bad-date", after: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-05-17T10:30:00Z") }, kind: Malformed, contains: "YYYYMMDDTHHMMSSZ"},
		{name: "scope-date-differs", after: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20240518T000000Z") }, opts: func(o *VerifyOptions) { o.MaxSkew = 48 * time.Hour }, kind: Malformed, contains: "scope's date"},
		{name: "unsorted-signed-headers", after: setAuth(func(a string) string {
			return strings.Replace(a, "SignedHeaders=content-length;host", "SignedHeaders=host;content-length", 1)
		}), kind: Malformed, contains: "sorted"},
		{name: "presign-bad-expires", presign: true, after: setQuery(func(q string) string { return strings.Replace(q, "X-Amz-Expires=3600", "X-Amz-Expires=604801", 1) }), kind: Malformed, contains: "604800"},
		{name: "presign-dup-param", presign: true, after: setQuery(func(q string) string { return q + "&X-Amz-Date=20240517T103000Z" }), kind: Malformed, contains: "more than once"},
		{name: "presign-missing-param", presign: true, after: setQuery(func(q string) string { return strings.Replace(q, "X-Amz-SignedHeaders", "X-Amz-SignedHeaderz", 1) }), kind: Malformed, contains: "X-Amz-SignedHeaders"},
		{name: "body-with-no-hash", after: func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, kind: Malformed, contains: "x-amz-content-sha256"},
		{name: "unknown-key", opts: func(o *VerifyOptions) { o.Lookup = lookupOf(tokenCreds) }, kind: UnknownKey, contains: verifyCreds.AccessKeyID},
		{name: "no-lookup", opts: func(o *VerifyOptions) { o.Lookup = nil }, kind: UnknownKey},
		{name: "token-missing", creds: tokenCreds, after: func(r *http.Request) { r.Header.Del("X-Amz-Security-Token") }, kind: UnknownKey, contains: "security token"},
		{name: "token-wrong", creds: tokenCreds, presign: true, after: setQuery(func(q string) string { return strings.Replace(q, "X-Amz-Security-Token=", "X-Amz-Security-Token=x", 1) }), kind: UnknownKey},
		{name: "wrong-secret", opts: func(o *VerifyOptions) {
			o.Lookup = lookupOf(Credentials{AccessKeyID: verifyCreds.AccessKeyID, SecretAccessKey: "other"})
		}, kind: SignatureMismatch},
		{name: "expired", presign: true, opts: func(o *VerifyOptions) { o.Now = verifyNow.Add(time.Hour + time.Second) }, kind: Expired, contains: "presign it again"},
		{name: "presign-last-second", presign: true, opts: func(o *VerifyOptions) { o.Now = verifyNow.Add(time.Hour) }},
		{name: "presign-from-future", presign: true, opts: func(o *VerifyOptions) { o.Now = verifyNow.Add(-16 * time.Minute) }, kind: ClockSkew, contains: "future"},
		{name: "skew-client-behind", opts: func(o *VerifyOptions) { o.Now = verifyNow.Add(15*time.Minute + time.Second) }, kind: ClockSkew, contains: "behind"},
		{name: "skew-client-ahead", opts: func(o *VerifyOptions) { o.Now = verifyNow.Add(-15*time.Minute - time.Second) }, kind: ClockSkew, contains: "ahead of"},
		{name: "skew-at-limit", opts: func(o *VerifyOptions) { o.Now = verifyNow.Add(-15 * time.Minute) }},
		{name: "skew-custom", opts: func(o *VerifyOptions) { o.Now = verifyNow.Add(2 * time.Minute); o.MaxSkew = time.Minute }, kind: ClockSkew},
		{name: "required-header-not-signed", opts: func(o *VerifyOptions) { o.RequiredSignedHeaders = []string{"X-Amz-Content-Sha256", "content-md5"} }, kind: HeaderNotSigned, contains: "content-md5"},
		{name: "host-not-signed", after: setAuth(func(a string) string { return strings.Replace(a, ";host;", ";", 1) }), kind: HeaderNotSigned, contains: "host"},
		{name: "required-header-signed", opts: func(o *VerifyOptions) { o.RequiredSignedHeaders = []string{"x-amz-content-sha256", "x-amz-date"} }},
		{name: "body-hash-mismatch", opts: func(o *VerifyOptions) { o.PayloadHash = sha256Hex([]byte("other")) }, kind: BodyHashMismatch, contains: sha256Hex([]byte("other"))},
		{name: "body-hash-match", opts: func(o *VerifyOptions) { o.PayloadHash = sha256Hex([]byte("hello")) }},
		{name: "scope-service", opts: func(o *VerifyOptions) { o.Service = "execute-api" }, kind: ScopeMismatch, contains: "execute-api"},
		{name: "scope-region", presign: true, opts: func(o *VerifyOptions) { o.Region = "us-east-1" }, kind: ScopeMismatch, contains: "us-east-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			creds := c.creds
			if creds.AccessKeyID == "" {
				creds = verifyCreds
			}
			r := signedFixture(t, c.presign, creds, c.before)
			if c.after != nil {
				c.after(r)
			}
			opts := baseOpts()
			if c.opts != nil {
				c.opts(&opts)
			}
			_, err := Verify(r, opts)
			if c.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ve := checkKind(t, err, c.kind)
			if c.contains != "" && !strings.Contains(err.Error(), c.contains) {
				t.Errorf("message %q does not mention %q", err, c.contains)
			}
			checkNoLeak(t, err, creds, ve)
		})
	}
}

// checkNoLeak asserts that a failure reveals neither the secret nor the
// signature the verifier expected.
func checkNoLeak(t *testing.T, err error, creds Credentials, ve *VerifyError) {
	t.Helper()
	msg := err.Error() + ve.CanonicalRequest + ve.StringToSign
	if strings.Contains(msg, creds.SecretAccessKey) {
		t.Errorf("the error reveals the secret: %s", msg)
	}
	if ve.StringToSign != "" {
		date := ve.StringToSign[len(algorithmV4)+1 : len(algorithmV4)+9]
		k := DeriveKey(creds.SecretAccessKey, date, "eu-west-1", "s3")
		sig, _ := hmacSHA256(k[:], []byte(ve.StringToSign), nil)
		if strings.Contains(msg, fmt.Sprintf("%x", sig)) {
			t.Errorf("the error reveals the expected signature")
		}
	}
}

// TestVerifyTampered changes one part of a signed request in transit: each
// must be caught, with the verifier's canonical request for diagnosis.
func TestVerifyTampered(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(r *http.Request)
		want   string // in the canonical request: proof it shows the tampered part
	}{
		{"method", func(r *http.Request) { r.Method = "POST" }, "POST\n"},
		{"path", func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/dir/key2.txt", "" }, "/dir/key2.txt\n"},
		{"path-encoding", func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/dir/key.txt/", "" }, "/dir/key.txt/\n"},
		{"query-value", func(r *http.Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "v=1", "v=2", 1) }, "v=2"},
		{"query-added", func(r *http.Request) { r.URL.RawQuery += "&extra=1" }, "extra=1"},
		{"header-value", func(r *http.Request) { r.Header.Set("X-Amz-Meta-Owner", "mallory") }, "x-amz-meta-owner:mallory"},
		{"header-removed", func(r *http.Request) { r.Header.Del("X-Amz-Meta-Owner") }, "x-amz-meta-owner:\n"},
		{"host", func(r *http.Request) { r.Host = "other.s3.eu-west-1.amazonaws.com" }, "host:other."},
		{"content-length", func(r *http.Request) { r.Header.Set("Content-Length", "6") }, "content-length:6"},
	}
	for _, presign := range []bool{false, true} {
		for _, c := range cases {
			name := "header/" + c.name
			if presign {
				name = "query/" + c.name
			}
			t.Run(name, func(t *testing.T) {
				r := signedFixture(t, presign, verifyCreds, nil)
				if _, err := Verify(r, baseOpts()); err != nil {
					t.Fatalf("untampered: %v", err)
				}
				c.tamper(r)
				_, err := Verify(r, baseOpts())
				ve := checkKind(t, err, SignatureMismatch)
				if !strings.Contains(ve.CanonicalRequest, c.want) {
					t.Errorf("canonical request does not show %q:\n%s", c.want, ve.CanonicalRequest)
				}
				if !strings.HasPrefix(ve.StringToSign, algorithmV4+"\n20240517T103000Z\n20240517/eu-west-1/s3/aws4_request\n") {
					t.Errorf("string to sign:\n%s", ve.StringToSign)
				}
				if c.name == "header-removed" && !strings.Contains(ve.Detail, "x-amz-meta-owner") {
					t.Errorf("detail %q does not name the missing header", ve.Detail)
				}
				checkNoLeak(t, err, verifyCreds, ve)
			})
		}
	}
}

// TestVerifyAuthorizationSyntax accepts the spacing variants clients produce
// and rejects incomplete headers as Malformed, never panicking.
func TestVerifyAuthorizationSyntax(t *testing.T) {
	r := signedFixture(t, false, verifyCreds, nil)
	auth := r.Header.Get("Authorization")
	alg, rest, _ := strings.Cut(auth, " ")
	parts := strings.Split(rest, ", ")
	cases := []struct {
		name string
		auth string
		ok   bool
	}{
		{"as-signed", auth, true},
		{"no-space-after-comma", alg + " " + strings.Join(parts, ","), true},
		{"spaces-around-commas", alg + "  " + strings.Join(parts, " ,  "), true},
		{"tabs", alg + "\t" + strings.Join(parts, ",\t"), true},
		{"trailing-space", " " + auth + "  ", true},
		{"reordered", alg + " " + parts[2] + ", " + parts[0] + ", " + parts[1], true},
		{"only-algorithm", alg, false},
		{"empty", "", false},
		{"commas-only", alg + " ,,,", false},
		{"duplicate-part", auth + ", " + parts[0], false},
		{"extra-part", auth + ", Foo=bar", false},
		{"bare-word", auth + ", Foo", false},
		{"empty-credential", alg + " Credential=, " + parts[1] + ", " + parts[2], false},
		{"empty-signed-headers", alg + " " + parts[0] + ", SignedHeaders=, " + parts[2], false},
		{"double-semicolon", alg + " " + parts[0] + ", SignedHeaders=host;;x-amz-date, " + parts[2], false},
		{"uppercase-signed-header", alg + " " + parts[0] + ", " + strings.Replace(parts[1], "host", "Host", 1) + ", " + parts[2], false},
		{"credential-slashes", alg + " Credential=////, " + parts[1] + ", " + parts[2], false},
		{"v4a-without-region-set", strings.Replace(auth, algorithmV4, algorithmV4A, 1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.Header.Set("Authorization", c.auth)
			if c.auth == "" {
				r.Header.Del("Authorization")
			}
			_, err := Verify(r, baseOpts())
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *VerifyError
			if !errors.As(err, &ve) || (ve.Kind != Malformed && ve.Kind != HeaderNotSigned) {
				t.Fatalf("got %v, want a Malformed error", err)
			}
		})
	}
}

// TestVerifyPayloadHash covers the sources of the payload hash.
func TestVerifyPayloadHash(t *testing.T) {
	sign := func(t *testing.T, body string, p *Params) *http.Request {
		r := newTestRequest(t, "POST", "https://abc.execute-api.eu-west-1.amazonaws.com/x", body)
		if err := NewSigner(nil).Sign(r, verifyCreds, p, verifyNow); err != nil {
			t.Fatal(err)
		}
		srv, err := serverView(r)
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	opts := VerifyOptions{Now: verifyNow, Lookup: lookupOf(verifyCreds)}
	t.Run("no-body-empty-hash", func(t *testing.T) {
		v, err := Verify(sign(t, "", &Params{Service: "execute-api", Region: "eu-west-1"}), opts)
		if err != nil || v.PayloadHash != EmptyPayloadHash {
			t.Fatalf("%v %+v", err, v)
		}
	})
	t.Run("known-hash", func(t *testing.T) {
		o := opts
		o.PayloadHash = sha256Hex([]byte("abc"))
		if _, err := Verify(sign(t, "abc", &Params{Service: "execute-api", Region: "eu-west-1", PayloadHash: o.PayloadHash}), o); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("known-hash-wrong-body", func(t *testing.T) {
		o := opts
		o.PayloadHash = sha256Hex([]byte("abd"))
		_, err := Verify(sign(t, "abc", &Params{Service: "execute-api", Region: "eu-west-1", PayloadHash: sha256Hex([]byte("abc"))}), o)
		checkKind(t, err, SignatureMismatch)
	})
	t.Run("header-claim", func(t *testing.T) {
		h := sha256Hex([]byte("abc"))
		v, err := Verify(sign(t, "abc", &Params{Service: "execute-api", Region: "eu-west-1", PayloadHash: h, ContentSHA256Header: true}), opts)
		if err != nil || v.PayloadHash != h {
			t.Fatalf("%v %+v", err, v)
		}
	})
	t.Run("body-without-claim", func(t *testing.T) {
		_, err := Verify(sign(t, "abc", &Params{Service: "execute-api", Region: "eu-west-1", PayloadHash: sha256Hex([]byte("abc"))}), opts)
		checkKind(t, err, Malformed)
	})
}

// TestPresignLifetime: AWS accepts 1s to 7 days; Presign refuses the rest
// with a LifetimeError, and a 1s URL is valid for exactly that second.
func TestPresignLifetime(t *testing.T) {
	for _, c := range []struct {
		lifetime time.Duration
		ok       bool
	}{
		{time.Second, true}, {maxPresign, true}, {0, false}, {-time.Second, false},
		{maxPresign + time.Second, false}, {1500 * time.Millisecond, false},
	} {
		t.Run(c.lifetime.String(), func(t *testing.T) {
			r := newTestRequest(t, "GET", "https://bucket.s3.eu-west-1.amazonaws.com/k", "")
			err := NewSigner(nil).Presign(r, verifyCreds, &Params{Service: "s3", Region: "eu-west-1", PayloadHash: UnsignedPayload}, verifyNow, c.lifetime)
			if !c.ok {
				var le *LifetimeError
				if !errors.As(err, &le) || le.Lifetime != c.lifetime {
					t.Fatalf("got %v, want a LifetimeError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			srv, err := serverView(r)
			if err != nil {
				t.Fatal(err)
			}
			opts := baseOpts()
			opts.Now = verifyNow.Add(c.lifetime)
			if _, err := Verify(srv, opts); err != nil {
				t.Errorf("at the last valid second: %v", err)
			}
			opts.Now = opts.Now.Add(time.Second)
			_, err = Verify(srv, opts)
			checkKind(t, err, Expired)
		})
	}
}

// TestNewHashCheckingReader checks a streamed body against its claimed hash.
func TestNewHashCheckingReader(t *testing.T) {
	body := strings.Repeat("signway ", 10000)
	good := sha256Hex([]byte(body))
	cases := []struct {
		name, want string
		fail       bool
	}{
		{"match", good, false},
		{"match-uppercase", strings.ToUpper(good), false},
		{"mismatch", sha256Hex([]byte("x")), true},
		{"unsigned-passes", UnsignedPayload, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := NewHashCheckingReader(io.NopCloser(iotest.OneByteReader(strings.NewReader(body))), c.want)
			got, err := io.ReadAll(rc)
			if string(got) != body {
				t.Errorf("read %d bytes, want %d", len(got), len(body))
			}
			if !c.fail {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkKind(t, err, BodyHashMismatch)
			if _, err2 := rc.Read(make([]byte, 1)); !errors.Is(err2, ErrBodyHashMismatch) {
				t.Errorf("a read after the failure returned %v", err2)
			}
			if err := rc.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("iotest", func(t *testing.T) {
		if err := iotest.TestReader(NewHashCheckingReader(io.NopCloser(strings.NewReader(body)), good), []byte(body)); err != nil {
			t.Error(err)
		}
	})
}

var _ = url.Parse
