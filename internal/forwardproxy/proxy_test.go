package forwardproxy

import (
	"bufio"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// gateway stands in for signway's handler: it says what it was asked.
var gateway = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "host=%s uri=%s tls=%t proto=%s", r.Host, r.RequestURI, r.TLS != nil, r.Proto)
})

type fixture struct {
	front    *httptest.Server
	proxy    *Proxy
	client   *http.Client
	connects atomic.Int32
}

func newFixture(t *testing.T, tunnel bool, h2 bool) *fixture {
	t.Helper()
	ca, pool, _ := testCA(t, nil)
	f := &fixture{}
	p, err := New(Options{CA: ca, Tunnel: tunnel, Handler: gateway,
		Listed: func(host string) bool { return host == "bucket.example" || host == "localhost" },
		Next:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "reverse proxy") })})
	if err != nil {
		t.Fatal(err)
	}
	f.proxy = p
	f.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			f.connects.Add(1)
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { p.Close(); f.front.Close() })
	proxyURL, _ := url.Parse(f.front.URL)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2,
		// Names resolve to the test's loopback only; the proxy never dials a listed host.
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	f.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return f
}

func (f *fixture) get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := f.client.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestInterceptedTunnel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h2    bool
		proto string
	}{{"HTTP/1.1 keep-alive", false, "HTTP/1.1"}, {"HTTP/2 by ALPN", true, "HTTP/2.0"}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, false, tc.h2)
			for i := range 3 {
				code, body := f.get(t, fmt.Sprintf("https://bucket.example/photos/a%%20b.jpg?n=%d", i))
				want := fmt.Sprintf("host=bucket.example uri=/photos/a%%20b.jpg?n=%d tls=true proto=%s", i, tc.proto)
				if code != 200 || body != want {
					t.Fatalf("request %d: %d %q, want %q", i, code, body, want)
				}
			}
			if n := f.connects.Load(); n != 1 {
				t.Errorf("%d CONNECTs for 3 requests: the tunnel was not kept alive", n)
			}
		})
	}
}

func TestRefusedAndTunnelled(t *testing.T) {
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "origin itself") }))
	defer origin.Close()

	f := newFixture(t, false, false)
	if _, body := f.get(t, origin.URL); !strings.Contains(body, "Forbidden") {
		t.Errorf("CONNECT to an unlisted host: %q, want a 403 refusal", body)
	}

	f = newFixture(t, true, false)
	f.client.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(origin.Certificate())
	code, body := f.get(t, origin.URL)
	if code != 200 || body != "origin itself" {
		t.Errorf("unlisted: tunnel: %d %q, want the origin's own answer, untouched", code, body)
	}
	if n := f.proxy.Tunnels(); n > 1 {
		t.Errorf("%d tunnels open", n)
	}
}

func TestAbsoluteFormAndNext(t *testing.T) {
	f := newFixture(t, false, false)
	code, body := f.get(t, "http://bucket.example/k?x=1")
	if code != 200 || body != "host=bucket.example uri=/k?x=1 tls=false proto=HTTP/1.1" {
		t.Errorf("absolute-form: %d %q", code, body)
	}
	if code, _ := f.get(t, "http://169.254.169.254/latest/meta-data/"); code != 403 {
		t.Errorf("absolute-form to an unlisted host: %d, want 403", code)
	}
	resp, err := http.Get(f.front.URL + "/bucket/key")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "reverse proxy" {
		t.Errorf("origin-form request: %q, want the reverse proxy", b)
	}
}

// A tunnel opened for a listed host cannot carry requests for another.
func TestTunnelPinsItsHost(t *testing.T) {
	ca, pool, _ := testCA(t, nil)
	p, _ := New(Options{CA: ca, Handler: gateway, Next: gateway, Listed: func(h string) bool { return h == "bucket.example" }})
	front := httptest.NewServer(p)
	defer front.Close()
	defer p.Close()
	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT bucket.example:443 HTTP/1.1\r\nHost: bucket.example:443\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "bucket.example"})
	fmt.Fprintf(tc, "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(string(b), "this tunnel is for bucket.example") {
		t.Fatalf("%d %q, want 421", resp.StatusCode, b)
	}
}

func TestCloseEndsTunnels(t *testing.T) {
	f := newFixture(t, false, false)
	if code, _ := f.get(t, "https://bucket.example/a"); code != 200 {
		t.Fatal(code)
	}
	if f.proxy.Tunnels() != 1 {
		t.Fatalf("%d tunnels, want 1", f.proxy.Tunnels())
	}
	f.proxy.Close()
	for deadline := time.Now().Add(5 * time.Second); f.proxy.Tunnels() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d tunnels still open after Close", f.proxy.Tunnels())
		}
	}
}
