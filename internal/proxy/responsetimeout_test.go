package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The response timeout over both protocols: an upstream that keeps its
// headers is answered 504 UpstreamTimeout, "none" waits (over HTTP/2 it
// failed every request: Go's client took the negative duration as a passed
// deadline), and the timeout starts only once the whole request is sent (a
// slow caller's body does not count against it).
func TestResponseTimeout(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		proto := "HTTP/1.1"
		if h2 {
			proto = "HTTP/2.0"
		}
		up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			if r.URL.Path == "/slow" {
				select {
				case <-time.After(2500 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			w.Header().Set("X-Proto", r.Proto)
			io.WriteString(w, strings.Repeat("x", int(n)))
		}))
		up.EnableHTTP2 = h2
		up.StartTLS()
		t.Cleanup(up.Close)
		proxyWith := func(timeout time.Duration) *httptest.Server {
			tr, err := NewTransport(TransportOptions{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(Options{Route: &Route{Name: "t", Target: mustURL(t, up.URL), Service: "execute-api", Region: "us-east-1",
				Credentials: staticCreds, ResponseTimeout: timeout}, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			s := httptest.NewServer(p)
			t.Cleanup(s.Close)
			return s
		}
		// Margins wide enough for a loaded CI machine: the fast answers come
		// in milliseconds, the slow one 2.5 s after the request.
		short, none := proxyWith(time.Second), proxyWith(-1)

		for _, tc := range []struct {
			name       string
			server     *httptest.Server
			method     string
			path       string
			body       io.Reader
			wantStatus int
			wantCode   string
		}{
			{"headers too late", short, http.MethodGet, "/slow", nil, http.StatusGatewayTimeout, "UpstreamTimeout"},
			{"in time", short, http.MethodGet, "/fast", nil, http.StatusOK, ""},
			{"none waits", none, http.MethodGet, "/slow", nil, http.StatusOK, ""},
			{"none, at once", none, http.MethodGet, "/fast", nil, http.StatusOK, ""},
			{"a slow body is not the upstream's time", short, http.MethodPut, "/fast", &slowBody{parts: 5, pause: 300 * time.Millisecond}, http.StatusOK, ""},
		} {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				resp, body := do(t, newRequest(t, tc.method, tc.server.URL+tc.path, tc.body))
				if resp.StatusCode != tc.wantStatus || resp.Header.Get("X-Signway-Error") != tc.wantCode {
					t.Fatalf("got %d %q %s, want %d %q", resp.StatusCode, resp.Header.Get("X-Signway-Error"), body, tc.wantStatus, tc.wantCode)
				}
				if tc.wantStatus == http.StatusOK && resp.Header.Get("X-Proto") != proto {
					t.Errorf("the upstream spoke %q, want %s", resp.Header.Get("X-Proto"), proto)
				}
				if tc.wantCode != "" && !strings.Contains(body, "response timeout") {
					t.Errorf("the answer does not name the setting to raise: %s", body)
				}
			})
		}
	}
}

// TestResponseTimeoutIsNotRetried: a GET whose headers are late is answered
// 504 once its timeout runs out, on a route that retries: the upstream had
// the request, and sending it again would only double the wait.
func TestResponseTimeoutIsNotRetried(t *testing.T) {
	var got atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(up.Close)
	p, err := New(Options{Route: &Route{Name: "t", Target: mustURL(t, up.URL), Service: "execute-api", Region: "us-east-1",
		Credentials: staticCreds, ResponseTimeout: 300 * time.Millisecond, MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(p)
	t.Cleanup(s.Close)
	start := time.Now()
	resp, body := do(t, newRequest(t, http.MethodGet, s.URL+"/slow", nil))
	took := time.Since(start)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "timeouts.response") {
		t.Fatalf("got %d %s, want 504 naming timeouts.response", resp.StatusCode, body)
	}
	if n := got.Load(); n != 1 || took > 2*time.Second {
		t.Fatalf("the upstream got the request %d times and the answer took %s; want once, soon after 300ms", n, took)
	}
}

// slowBody sends parts of 1 KiB with a pause before each.
type slowBody struct {
	parts int
	pause time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.parts == 0 {
		return 0, io.EOF
	}
	time.Sleep(b.pause)
	b.parts--
	n := min(len(p), 1024)
	clear(p[:n])
	return n, nil
}
