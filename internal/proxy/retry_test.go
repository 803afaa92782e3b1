package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
)

const slowDown = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`

// failing answers the first n requests with fail (after the backend
// verified their signatures), then 200 with the body it received.
func failing(n int32, fail func(w http.ResponseWriter)) func(w http.ResponseWriter, r *http.Request) {
	var seen atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			fail(w)
			return
		}
		io.WriteString(w, "ok")
	}
}

func resetConn(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		c.Close() // no response at all: the proxy sees EOF
	}
}

func s3Error(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestRetries(t *testing.T) {
	bigBody := strings.Repeat("retry body ", 1000)
	for _, tc := range []struct {
		name        string
		service     string
		method      string
		body        string
		payload     config.PayloadMode
		maxAttempts int
		fail        func(http.ResponseWriter)
		failures    int32
		wantStatus  int
		wantCalls   int
		wantBody    string // in the caller's response
	}{
		{name: "GET after two resets", service: "execute-api", method: "GET", fail: resetConn, failures: 2, wantStatus: 200, wantCalls: 3, wantBody: "ok"},
		{name: "S3 GET after SlowDown", service: "s3", method: "GET", fail: s3Error(503, slowDown), failures: 1, wantStatus: 200, wantCalls: 2, wantBody: "ok"},
		{name: "S3 hashed PUT after InternalError, body sent again", service: "s3", method: "PUT", body: bigBody, payload: config.PayloadSigned,
			fail: s3Error(500, `<Error><Code>InternalError</Code></Error>`), failures: 1, wantStatus: 200, wantCalls: 2, wantBody: "ok"},
		{name: "SlowDown every time: the last answer, whole", service: "s3", method: "GET", fail: s3Error(503, slowDown), failures: 99,
			wantStatus: 503, wantCalls: 3, wantBody: slowDown},
		{name: "S3 503 with another code is not retried", service: "s3", method: "GET", fail: s3Error(503, `<Error><Code>NotSlowDown</Code></Error>`), failures: 99,
			wantStatus: 503, wantCalls: 1, wantBody: "NotSlowDown"},
		{name: "a 503 off S3 is the service's answer", service: "execute-api", method: "GET", fail: s3Error(503, slowDown), failures: 99, wantStatus: 503, wantCalls: 1},
		{name: "POST is never retried", service: "execute-api", method: "POST", body: "x", fail: resetConn, failures: 1, wantStatus: 502, wantCalls: 1},
		{name: "a streamed PUT is read once", service: "s3", method: "PUT", body: bigBody, payload: config.PayloadUnsigned, fail: resetConn, failures: 1, wantStatus: 502, wantCalls: 1},
		{name: "max_attempts 1 sends once", service: "execute-api", method: "GET", maxAttempts: 1, fail: resetConn, failures: 1, wantStatus: 502, wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.service)
			b.handler = failing(tc.failures, tc.fail)
			u, _ := url.Parse(b.URL)
			var clock atomic.Int64 // each signing a second later, so each attempt has its own date
			start := time.Now()
			rt := &Route{Name: "r", Target: u, Service: tc.service, Region: "us-east-1", Credentials: staticCreds, Payload: tc.payload, MaxAttempts: tc.maxAttempts}
			p, err := New(Options{Route: rt, Now: func() time.Time { return start.Add(time.Duration(clock.Add(1)) * time.Second) }})
			if err != nil {
				t.Fatal(err)
			}
			p.rp.Transport.(*signingTransport).backoff = func(int) time.Duration { return 0 }
			front := httptest.NewServer(p)
			defer front.Close()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, front.URL+"/bucket/key", body)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(got), tc.wantBody) {
				t.Fatalf("status %d body %q, want %d with %q", resp.StatusCode, got, tc.wantStatus, tc.wantBody)
			}
			if tc.wantBody == slowDown && string(got) != slowDown {
				t.Errorf("the caller got %q, not S3's whole answer", got)
			}
			if n := b.count(); n != tc.wantCalls {
				t.Fatalf("the upstream saw %d requests, want %d", n, tc.wantCalls)
			}
			dates := map[string]bool{}
			for i, rec := range b.got {
				if rec.verifyErr != nil {
					t.Errorf("attempt %d: signature rejected: %v", i+1, rec.verifyErr)
				}
				if tc.body != "" && string(rec.body) != tc.body {
					t.Errorf("attempt %d: the upstream got %d bytes of %d", i+1, len(rec.body), len(tc.body))
				}
				dates[rec.header.Get("X-Amz-Date")] = true
			}
			if len(dates) != tc.wantCalls {
				t.Errorf("%d attempts carried %d distinct X-Amz-Date values: each retry must be signed afresh", tc.wantCalls, len(dates))
			}
		})
	}
}

// A retry that cannot finish before the caller's deadline is not started:
// the answer in hand is given.
func TestRetryRespectsDeadline(t *testing.T) {
	b := newBackend(t, "s3")
	b.handler = failing(99, s3Error(503, slowDown))
	u, _ := url.Parse(b.URL)
	p, err := New(Options{Route: &Route{Name: "r", Target: u, Service: "s3", Region: "us-east-1", Credentials: staticCreds}})
	if err != nil {
		t.Fatal(err)
	}
	p.rp.Transport.(*signingTransport).backoff = func(int) time.Duration { return time.Hour }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/bucket/key", nil).WithContext(ctx))
	if rec.Code != 503 || rec.Body.String() != slowDown || b.count() != 1 {
		t.Fatalf("status %d body %q after %d attempts; want S3's 503 after 1", rec.Code, rec.Body, b.count())
	}
}

// Retries happen in the transport, so concurrent requests each keep their
// own attempts and bodies.
func TestRetriesConcurrent(t *testing.T) {
	b := newBackend(t, "s3")
	var mu sync.Mutex
	seen := map[string]int{}
	b.handler = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		first := seen[r.URL.Path] == 1
		mu.Unlock()
		if first {
			s3Error(503, slowDown)(w)
			return
		}
		io.WriteString(w, r.URL.Path)
	}
	u, _ := url.Parse(b.URL)
	p, _ := New(Options{Route: &Route{Name: "r", Target: u, Service: "s3", Region: "us-east-1", Credentials: staticCreds, Payload: config.PayloadSigned}})
	p.rp.Transport.(*signingTransport).backoff = func(int) time.Duration { return time.Millisecond }
	front := httptest.NewServer(p)
	defer front.Close()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/bucket/k" + string(rune('a'+i))
			req, _ := http.NewRequest("PUT", front.URL+path, bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 1000)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != path {
				t.Errorf("%s: %d %q", path, resp.StatusCode, got)
			}
		}()
	}
	wg.Wait()
	for _, rec := range b.got {
		if rec.verifyErr != nil || len(rec.body) != 1000 {
			t.Errorf("%s: %v, %d bytes", rec.path, rec.verifyErr, len(rec.body))
		}
	}
}
