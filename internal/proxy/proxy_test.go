package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/sigv4"
)

var testCreds = sigv4.Credentials{AccessKeyID: "AKIDPROXYTEST", SecretAccessKey: "proxy-test-secret", SessionToken: "proxy-test-token"}

// received is what the backend saw, after it verified the signature.
type received struct {
	method, path, rawPath, query string
	header                       http.Header
	body                         []byte
	contentLength                int64
	transferEncoding             []string
	verified                     *sigv4.Verified
	verifyErr                    error
}

// backend is the upstream: it verifies every request with sigv4.Verify, as
// AWS would, and records what it got.
type backend struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	service string
	handler func(w http.ResponseWriter, r *http.Request) // after recording; nil answers 200 "ok"
}

func newBackend(t *testing.T, service string) *backend {
	b := &backend{service: service}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	rec := received{method: r.Method, path: r.URL.Path, rawPath: r.URL.EscapedPath(), query: r.URL.RawQuery,
		header: r.Header.Clone(), contentLength: r.ContentLength, transferEncoding: r.TransferEncoding}
	rec.verified, rec.verifyErr = sigv4.Verify(r, sigv4.VerifyOptions{Now: time.Now(), Service: b.service,
		Lookup: func(id string) (sigv4.Credentials, error) {
			if id != testCreds.AccessKeyID && !strings.HasPrefix(id, "AKID-") {
				return sigv4.Credentials{}, errors.New("unknown key")
			}
			c := testCreds // per-caller keys (AKID-NAME) share the test secret
			c.AccessKeyID = id
			return c, nil
		}})
	var body io.Reader = r.Body
	if rec.verifyErr == nil {
		// Hash-signed bodies are hashed, aws-chunked ones decoded with every
		// chunk signature checked, as S3 does.
		if body, rec.verifyErr = sigv4.VerifiedBody(r, rec.verified); rec.verifyErr != nil {
			body = r.Body
		}
	}
	var err error
	rec.body, err = io.ReadAll(body)
	if err != nil && rec.verifyErr == nil {
		rec.verifyErr = err
	}
	b.mu.Lock()
	b.got = append(b.got, rec)
	b.mu.Unlock()
	if rec.verifyErr != nil {
		var ve *sigv4.VerifyError
		if errors.As(rec.verifyErr, &ve) && ve.CanonicalRequest != "" {
			rec.verifyErr = fmt.Errorf("%w\ncanonical request:\n%s", rec.verifyErr, ve.CanonicalRequest)
		}
		http.Error(w, "signature rejected: "+rec.verifyErr.Error(), http.StatusForbidden)
		return
	}
	if b.handler != nil {
		b.handler(w, r)
		return
	}
	io.WriteString(w, "ok")
}

func (b *backend) last(t *testing.T) received {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) == 0 {
		t.Fatal("the backend received nothing")
	}
	return b.got[len(b.got)-1]
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.got)
}

type fixture struct {
	proxy   *httptest.Server
	backend *backend
	route   *Route
	metrics *recordingMetrics
}

func staticCreds(context.Context) (sigv4.Credentials, error) { return testCreds, nil }

func newFixture(t *testing.T, service string, edit func(*Route)) *fixture {
	t.Helper()
	b := newBackend(t, service)
	u, _ := url.Parse(b.URL)
	rt := &Route{Name: "test", Target: u, Service: service, Region: "us-east-1", Credentials: staticCreds}
	if edit != nil {
		edit(rt)
	}
	m := &recordingMetrics{}
	tr, err := NewTransport(TransportOptions{ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Route: rt, Transport: tr, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(p)
	t.Cleanup(s.Close)
	return &fixture{proxy: s, backend: b, route: rt, metrics: m}
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestS3KeysSurvive sends keys that break other proxies (awslabs/aws-sigv4-proxy
// issues #11, #13, #176, #246) and checks the upstream gets the same key and a
// signature it accepts.
func TestS3KeysSurvive(t *testing.T) {
	f := newFixture(t, "s3", nil)
	keys := []struct{ name, wire, key string }{
		{"encoded slash", "/bucket/a%2Fb", "/bucket/a/b"},
		{"plus", "/bucket/a+b", "/bucket/a+b"},
		{"equals and colon", "/bucket/k=v:w", "/bucket/k=v:w"},
		{"at tilde bang", "/bucket/u@h~x!", "/bucket/u@h~x!"},
		{"star quote parens", "/bucket/*'()", "/bucket/*'()"},
		{"spaces", "/bucket/my%20file%20.txt", "/bucket/my file .txt"},
		{"utf-8", "/bucket/%E6%97%A5%E6%9C%AC/caf%C3%A9", "/bucket/日本/café"},
		{"double slash and dots kept", "/bucket//a/./b/../c", "/bucket//a/./b/../c"},
		{"dollar comma semicolon", "/bucket/$a,b;c", "/bucket/$a,b;c"},
	}
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			req := newRequest(t, http.MethodGet, f.proxy.URL, nil)
			req.URL.Opaque = k.wire // sent verbatim, as a client would
			resp, body := do(t, req)
			got := f.backend.last(t)
			if resp.StatusCode != 200 || got.verifyErr != nil {
				t.Fatalf("status %d %s; backend verify: %v", resp.StatusCode, body, got.verifyErr)
			}
			if got.path != k.key {
				t.Errorf("upstream key = %q, want %q", got.path, k.key)
			}
		})
	}
}

func TestNonS3PathsAreSentAsIs(t *testing.T) {
	f := newFixture(t, "es", nil)
	// OpenSearch paths with "///" broke awslabs/aws-sigv4-proxy (#67). Go's
	// client would send such a path in absolute form, so write it by hand.
	status := rawGet(t, f.proxy.URL, "///my-index/_doc/a%20b")
	got := f.backend.last(t)
	if status != 200 || got.verifyErr != nil {
		t.Fatalf("status %d; verify: %v", status, got.verifyErr)
	}
	if got.rawPath != "///my-index/_doc/a%20b" {
		t.Errorf("upstream path = %q", got.rawPath)
	}
}

// rawGet sends a GET with the request target written verbatim.
func rawGet(t *testing.T, base, target string) int {
	t.Helper()
	return rawRequest(t, base, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, mustURL(t, base).Host))
}

func TestQueryIsCanonicalOnTheWire(t *testing.T) {
	f := newFixture(t, "s3", nil)
	resp, body := do(t, newRequest(t, http.MethodGet, f.proxy.URL+"/bucket?list-type=2&prefix=a+b&delimiter=/&empty=&flag&x=%7e", nil))
	got := f.backend.last(t)
	if resp.StatusCode != 200 || got.verifyErr != nil {
		t.Fatalf("status %d %s; verify: %v", resp.StatusCode, body, got.verifyErr)
	}
	q, _ := url.ParseQuery(strings.ReplaceAll(got.query, "+", "%2B"))
	if q.Get("prefix") != "a+b" || q.Get("delimiter") != "/" || q.Get("x") != "~" || !q.Has("flag") {
		t.Errorf("upstream query = %q", got.query)
	}
}

func TestCallerCredentialsAndHopByHopHeadersAreRemoved(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
	}{
		{"caller signature", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDCALLER/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00", "X-Amz-Date": "20200101T000000Z", "X-Amz-Security-Token": "caller-token", "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}},
		{"Connection names x-amz-date", map[string]string{"Connection": "x-amz-date", "X-Amz-Date": "20200101T000000Z"}},
		{"Connection names host", map[string]string{"Connection": "host, keep-alive"}},
		{"Connection names authorization", map[string]string{"Connection": "authorization", "Authorization": "Bearer caller"}},
		{"hop-by-hop", map[string]string{"Proxy-Authorization": "Basic eA==", "Keep-Alive": "timeout=5", "Te": "gzip", "Upgrade": "h2c"}},
		{"tracing and forwarding are not signed", map[string]string{"X-Amzn-Trace-Id": "Root=1", "Traceparent": "00-a-b-01", "X-Forwarded-For": "10.0.0.1", "User-Agent": "curl/8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "s3", nil)
			req := newRequest(t, http.MethodGet, f.proxy.URL+"/bucket/key", nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, body := do(t, req)
			got := f.backend.last(t)
			if resp.StatusCode != 200 || got.verifyErr != nil {
				t.Fatalf("status %d %s; verify: %v", resp.StatusCode, body, got.verifyErr)
			}
			if got.verified.AccessKeyID != testCreds.AccessKeyID {
				t.Errorf("signed by %q", got.verified.AccessKeyID)
			}
			if tok := got.header.Get("X-Amz-Security-Token"); tok != testCreds.SessionToken {
				t.Errorf("security token = %q, want signway's", tok)
			}
			for _, h := range []string{"Proxy-Authorization", "Keep-Alive", "Upgrade"} {
				if got.header.Get(h) != "" {
					t.Errorf("hop-by-hop %s reached the upstream", h)
				}
			}
			for _, h := range got.verified.SignedHeaders {
				if h == "user-agent" || h == "x-amzn-trace-id" || h == "traceparent" || strings.HasPrefix(h, "x-forwarded-") {
					t.Errorf("%s was signed", h)
				}
			}
		})
	}
}

func TestBodies(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16) // 200 KiB
	sum := sha256.Sum256(payload)
	tests := []struct {
		name        string
		service     string
		tls         bool // pretend the target is https for the auto decision
		mode        config.PayloadMode
		chunked     bool
		wantHash    string
		wantLengthy bool // upstream must see a Content-Length
	}{
		{"s3 auto streams an object upload", "s3", false, config.PayloadAuto, false, sigv4.StreamingPayload, false},
		{"s3 auto without length hashes", "s3", false, config.PayloadAuto, true, hex.EncodeToString(sum[:]), true},
		{"s3 streaming", "s3", false, config.PayloadStreaming, false, sigv4.StreamingPayload, false},
		{"s3 unsigned streams", "s3", false, config.PayloadUnsigned, false, sigv4.UnsignedPayload, true},
		{"s3 unsigned without length is spooled for a length", "s3", false, config.PayloadUnsigned, true, sigv4.UnsignedPayload, true},
		{"es signed", "es", false, config.PayloadAuto, false, hex.EncodeToString(sum[:]), true},
		{"es signed chunked", "es", false, config.PayloadSigned, true, hex.EncodeToString(sum[:]), true},
		{"execute-api unsigned chunked streams chunked", "execute-api", false, config.PayloadUnsigned, true, sigv4.UnsignedPayload, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.service, func(r *Route) { r.Payload = tt.mode; r.SpoolMemoryBytes = 64 << 10 })
			var body io.Reader = bytes.NewReader(payload)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			resp, rb := do(t, newRequest(t, http.MethodPut, f.proxy.URL+"/bucket/obj", body))
			got := f.backend.last(t)
			if resp.StatusCode != 200 || got.verifyErr != nil {
				t.Fatalf("status %d %s; verify: %v", resp.StatusCode, rb, got.verifyErr)
			}
			if !bytes.Equal(got.body, payload) {
				t.Fatalf("upstream got %d bytes, want the %d sent", len(got.body), len(payload))
			}
			if got.verified.PayloadHash != tt.wantHash {
				t.Errorf("payload hash = %q, want %q", got.verified.PayloadHash, tt.wantHash)
			}
			if tt.wantLengthy && got.contentLength != int64(len(payload)) {
				t.Errorf("upstream Content-Length = %d (transfer-encoding %v), want %d", got.contentLength, got.transferEncoding, len(payload))
			}
		})
	}
}

func TestSpoolFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, "es", func(r *Route) { r.SpoolDir = dir; r.SpoolMemoryBytes = 1024; r.MaxBodyBytes = 1 << 20 })
	f.backend.handler = func(w http.ResponseWriter, r *http.Request) {
		entries, _ := os.ReadDir(dir)
		if len(entries) != 0 {
			t.Errorf("spool file visible in %s while the request is in flight: it should be unlinked", dir)
		}
	}
	resp, _ := do(t, newRequest(t, http.MethodPost, f.proxy.URL+"/_bulk", bytes.NewReader(make([]byte, 100<<10))))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Refused before a byte is read, so a caller that may be refused asks
	// first (the AWS SDKs do for large bodies): one still writing could see
	// the connection closed under it instead of the answer.
	big := newRequest(t, http.MethodPost, f.proxy.URL+"/_bulk", bytes.NewReader(make([]byte, 2<<20)))
	big.Header.Set("Expect", "100-continue")
	resp, body := do(t, big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "1048576") {
		t.Fatalf("over the limit: status %d body %s, want 413 naming the limit", resp.StatusCode, body)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d files left in the spool directory", len(entries))
	}
}

func TestExpectContinue(t *testing.T) {
	f := newFixture(t, "s3", func(r *Route) { r.Payload = config.PayloadUnsigned })
	req := newRequest(t, http.MethodPut, f.proxy.URL+"/bucket/obj", strings.NewReader("expect me"))
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := f.backend.last(t)
	if resp.StatusCode != 200 || got.verifyErr != nil || string(got.body) != "expect me" {
		t.Fatalf("status %d, verify %v, body %q", resp.StatusCode, got.verifyErr, got.body)
	}
}

func TestQuerySigning(t *testing.T) {
	f := newFixture(t, "s3", func(r *Route) { r.SignQuery = true; r.Lifetime = time.Minute })
	resp, body := do(t, newRequest(t, http.MethodGet, f.proxy.URL+"/bucket/k%20ey?versionId=1", nil))
	got := f.backend.last(t)
	if resp.StatusCode != 200 || got.verifyErr != nil {
		t.Fatalf("status %d %s; verify: %v", resp.StatusCode, body, got.verifyErr)
	}
	if !got.verified.Presigned || got.header.Get("Authorization") != "" {
		t.Errorf("want a presigned request without Authorization, got %+v", got.verified)
	}
}
