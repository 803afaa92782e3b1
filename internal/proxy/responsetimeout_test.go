package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
