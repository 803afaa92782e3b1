package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func testRoute(name, target string) *Route {
	u, _ := url.Parse(target)
	return &Route{Name: name, Target: u, Service: "execute-api", Region: "us-east-1", Credentials: staticCreds}
}

func TestRoutePrecedence(t *testing.T) {
	b := newBackend(t, "execute-api")
	b.handler = func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Header.Get("X-Route")) }
	specs := []RouteSpec{
		{Route: testRoute("catch-all", b.URL)},
		{Route: testRoute("api-prefix", b.URL), Match: Match{PathPrefix: "/api"}},
		{Route: testRoute("api-v2-prefix", b.URL), Match: Match{PathPrefix: "/api/v2/"}},
		{Route: testRoute("cake-exact", b.URL), Match: Match{Path: "/cake.json"}},
		{Route: testRoute("api-post", b.URL), Match: Match{PathPrefix: "/api", Methods: []string{"POST"}}},
		{Route: testRoute("wild-host", b.URL), Match: Match{Host: "*.example.com"}},
		{Route: testRoute("deeper-wild-host", b.URL), Match: Match{Host: "*.eu.example.com"}},
		{Route: testRoute("exact-host", b.URL), Match: Match{Host: "api.example.com"}},
		{Route: testRoute("exact-host-path", b.URL), Match: Match{Host: "api.example.com", Path: "/health"}},
		{Route: testRoute("first-of-equals", b.URL), Match: Match{PathPrefix: "/dup"}},
		{Route: testRoute("second-of-equals", b.URL), Match: Match{PathPrefix: "/dup"}},
	}
	for i := range specs {
		specs[i].Rewrite.AddHeaders = map[string]string{"X-Route": specs[i].Route.Name}
	}
	tbl, err := NewTable(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewRouter(tbl, Options{}))
	defer srv.Close()
	tests := []struct{ method, host, path, want string }{
		{"GET", "", "/anything", "catch-all"},
		{"GET", "", "/api", "api-prefix"},
		{"GET", "", "/api/orders", "api-prefix"},
		{"GET", "", "/apiary", "catch-all"}, // a prefix ends at a segment boundary
		{"GET", "", "/api/v2/orders", "api-v2-prefix"},
		{"POST", "", "/api/orders", "api-post"},
		{"POST", "", "/api/v2/orders", "api-v2-prefix"}, // a longer prefix beats a method constraint
		{"GET", "", "/cake.json", "cake-exact"},
		{"GET", "", "/cake.json/x", "catch-all"},
		{"GET", "shop.example.com", "/cake.json", "wild-host"}, // any host constraint beats any path
		{"GET", "a.eu.example.com", "/", "deeper-wild-host"},
		{"GET", "api.example.com", "/x", "exact-host"},
		{"GET", "API.Example.COM.", "/health", "exact-host-path"},
		{"GET", "example.com", "/", "catch-all"}, // *.example.com needs a subdomain
		{"GET", "", "/dup/x", "first-of-equals"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.host+tt.path, func(t *testing.T) {
			req := newRequest(t, tt.method, srv.URL+tt.path, nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, body := do(t, req)
			if resp.StatusCode != 200 || body != tt.want {
				t.Fatalf("got %d %q, want route %q", resp.StatusCode, body, tt.want)
			}
		})
	}
}

func TestNoRouteIs404AndNothingIsSent(t *testing.T) {
	b := newBackend(t, "execute-api")
	tbl, err := NewTable([]RouteSpec{{Route: testRoute("only", b.URL), Match: Match{PathPrefix: "/only"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewRouter(tbl, Options{}))
	defer srv.Close()
	resp, body := do(t, newRequest(t, "GET", srv.URL+"/elsewhere", nil))
	if resp.StatusCode != 404 || !strings.Contains(body, "no route matches GET /elsewhere") || b.count() != 0 {
		t.Fatalf("got %d %s; backend saw %d requests", resp.StatusCode, body, b.count())
	}
}

// redirectingTransport sends every upstream connection, whatever host it
// names, to one loopback backend; the backend sees the Host that was asked
// for. It is how the SSRF tests observe where signway would have gone.
func redirectingTransport(t *testing.T, backendURL string) *http.Transport {
	addr := mustURL(t, backendURL).Host
	tr, err := NewTransport(TransportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

func TestHostAllowlistSSRF(t *testing.T) {
	b := newBackend(t, "") // verifies whichever service each host signs for
	var hosts []string
	var mu sync.Mutex
	b.handler = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
	}
	allow := func(pattern string) RouteSpec {
		return RouteSpec{FromHost: true, Scheme: "http", Match: Match{Host: pattern},
			Route: &Route{Name: "hosts " + pattern, Credentials: staticCreds}}
	}
	tbl, err := NewTable([]RouteSpec{allow("*.s3.us-east-1.amazonaws.com"), allow("search-logs.us-east-1.es.amazonaws.com"), allow("*.1")},
		Options{Transport: redirectingTransport(t, b.URL)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewRouter(tbl, Options{}))
	defer srv.Close()

	tests := []struct {
		name      string
		request   string // raw request head, sent as is
		status    int
		reachedAs string // the Host the upstream saw; "" = nothing sent
	}{
		{"allowed wildcard host", "GET /k HTTP/1.1\r\nHost: photos.s3.us-east-1.amazonaws.com\r\n", 200, "photos.s3.us-east-1.amazonaws.com"},
		{"allowed exact host", "GET /_cat HTTP/1.1\r\nHost: search-logs.us-east-1.es.amazonaws.com\r\n", 200, "search-logs.us-east-1.es.amazonaws.com"},
		{"case and trailing dot", "GET /k HTTP/1.1\r\nHost: PHOTOS.S3.US-EAST-1.AMAZONAWS.COM.\r\n", 200, "photos.s3.us-east-1.amazonaws.com"},
		{"other host", "GET /k HTTP/1.1\r\nHost: evil.example\r\n", 403, ""},
		{"X-Forwarded-Host is ignored", "GET /k HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-Host: photos.s3.us-east-1.amazonaws.com\r\n", 403, ""},
		{"absolute-form URI to another host", "GET http://evil.example/k HTTP/1.1\r\nHost: photos.s3.us-east-1.amazonaws.com\r\n", 403, ""},
		{"absolute-form URI to an allowed host", "GET http://photos.s3.us-east-1.amazonaws.com/k HTTP/1.1\r\nHost: evil.example\r\n", 200, "photos.s3.us-east-1.amazonaws.com"},
		{"userinfo in the authority", "GET /k HTTP/1.1\r\nHost: photos.s3.us-east-1.amazonaws.com@evil.example\r\n", 0, ""},
		{"userinfo in an absolute URI", "GET http://photos.s3.us-east-1.amazonaws.com@evil.example/k HTTP/1.1\r\nHost: x\r\n", 0, ""},
		{"IPv4 literal", "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n", 403, ""},
		{"IPv6 literal", "GET / HTTP/1.1\r\nHost: [::1]\r\n", 403, ""},
		{"the caller's port is ignored", "GET /k HTTP/1.1\r\nHost: photos.s3.us-east-1.amazonaws.com:8080\r\n", 200, "photos.s3.us-east-1.amazonaws.com"},
		{"suffix appended", "GET /k HTTP/1.1\r\nHost: photos.s3.us-east-1.amazonaws.com.evil.example\r\n", 403, ""},
		{"bare wildcard base", "GET /k HTTP/1.1\r\nHost: s3.us-east-1.amazonaws.com\r\n", 403, ""},
		{"percent-encoded host", "GET /k HTTP/1.1\r\nHost: photos%2Es3.us-east-1.amazonaws.com\r\n", 0, ""},
		{"IP under a wildcard-looking suffix", "GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n", 403, ""},
		{"exact host is not a wildcard", "GET /k HTTP/1.1\r\nHost: x.search-logs.us-east-1.es.amazonaws.com\r\n", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			hosts = nil
			mu.Unlock()
			status := rawRequest(t, srv.URL, tt.request+"Connection: close\r\n\r\n")
			if tt.status != 0 && status != tt.status || tt.status == 0 && status < 400 {
				t.Errorf("status %d, want %d (0: any refusal)", status, tt.status)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case tt.reachedAs == "" && len(hosts) > 0:
				t.Errorf("a request reached the upstream as %q", hosts)
			case tt.reachedAs != "" && (len(hosts) != 1 || hosts[0] != tt.reachedAs):
				t.Errorf("upstream saw %q, want %q", hosts, tt.reachedAs)
			}
		})
	}
	if got := b.count(); got != 5 {
		t.Errorf("backend got %d requests in all, want the 5 allowed ones", got)
	}
	for _, g := range b.got {
		if g.verifyErr != nil {
			t.Errorf("an allowed request was badly signed: %v", g.verifyErr)
		}
	}
}

// rawRequest writes a request head verbatim and returns the status.
func rawRequest(t *testing.T, base, head string) int {
	t.Helper()
	c, err := net.Dial("tcp", mustURL(t, base).Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, head)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRewrites(t *testing.T) {
	b := newBackend(t, "execute-api")
	spec := RouteSpec{Route: testRoute("rw", b.URL+"/prod"), Match: Match{PathPrefix: "/orders-api"},
		Rewrite: Rewrites{StripPrefix: "/orders-api", AddHeaders: map[string]string{"X-Api-Key": "from-gateway"}, RemoveHeaders: []string{"Cookie"}}}
	tbl, err := NewTable([]RouteSpec{spec}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewRouter(tbl, Options{}))
	defer srv.Close()
	req := newRequest(t, "GET", srv.URL+"/orders-api/orders/a%20b", nil)
	req.Header.Set("Cookie", "session=caller")
	req.Header.Set("X-Api-Key", "from-caller")
	resp, body := do(t, req)
	got := b.last(t)
	if resp.StatusCode != 200 || got.verifyErr != nil {
		t.Fatalf("%d %s %v", resp.StatusCode, body, got.verifyErr)
	}
	if got.rawPath != "/prod/orders/a%20b" || got.header.Get("Cookie") != "" || got.header.Get("X-Api-Key") != "from-gateway" {
		t.Fatalf("upstream got path %q cookie %q key %q", got.rawPath, got.header.Get("Cookie"), got.header.Get("X-Api-Key"))
	}
}

// TestReloadUnderLoad swaps tables while requests flow: none fails, and each
// is answered wholly by one generation.
func TestReloadUnderLoad(t *testing.T) {
	b := newBackend(t, "execute-api")
	b.handler = func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Header.Get("X-Generation")) }
	gen := func(n int) *Table {
		tbl, err := NewTable([]RouteSpec{{Route: testRoute("r", b.URL), Rewrite: Rewrites{AddHeaders: map[string]string{"X-Generation": fmt.Sprint(n)}}}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}
	router := NewRouter(gen(0), Options{})
	srv := httptest.NewServer(router)
	defer srv.Close()
	var failures, served atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(srv.URL + "/x")
				if err != nil {
					failures.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || len(body) == 0 {
					failures.Add(1)
				}
				served.Add(1)
			}
		}()
	}
	for n := 1; n <= 50; n++ {
		router.Load(gen(n))
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || served.Load() == 0 {
		t.Fatalf("%d of %d requests failed across 50 reloads", failures.Load(), served.Load())
	}
}

func TestInFlightRequestFinishesOnItsGeneration(t *testing.T) {
	release := make(chan struct{})
	old := newBackend(t, "execute-api")
	old.handler = func(w http.ResponseWriter, r *http.Request) { <-release; io.WriteString(w, "old") }
	nu := newBackend(t, "execute-api")
	nu.handler = func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new") }
	mk := func(target string) *Table {
		tbl, err := NewTable([]RouteSpec{{Route: testRoute("r", target)}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}
	router := NewRouter(mk(old.URL), Options{})
	srv := httptest.NewServer(router)
	defer srv.Close()
	done := make(chan string)
	go func() {
		resp, err := http.Get(srv.URL + "/slow")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	for old.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	router.Load(mk(nu.URL))
	if _, body := do(t, newRequest(t, "GET", srv.URL+"/fast", nil)); body != "new" {
		t.Fatalf("a new request went to %q, want the new upstream", body)
	}
	close(release)
	if got := <-done; got != "old" {
		t.Fatalf("the in-flight request got %q, want its own generation's upstream", got)
	}
}

func TestNewTableRejectsUnsafeSpecs(t *testing.T) {
	tests := []struct {
		name string
		spec RouteSpec
		want string
	}{
		{"host-based without pattern", RouteSpec{FromHost: true, Route: &Route{Name: "h", Credentials: staticCreds}}, "host pattern to allow"},
		{"wildcard over an IP", RouteSpec{FromHost: true, Match: Match{Host: "*.127.0.0.1"}, Route: &Route{Name: "h", Credentials: staticCreds}}, "cannot cover an IP"},
		{"pattern with a port", RouteSpec{FromHost: true, Match: Match{Host: "a.example:80"}, Route: &Route{Name: "h", Credentials: staticCreds}}, "without port"},
		{"pattern with userinfo", RouteSpec{Match: Match{Host: "a@b.example"}, Route: testRoute("x", "http://127.0.0.1:1")}, "without port"},
		{"lowercase method", RouteSpec{Match: Match{Methods: []string{"get"}}, Route: testRoute("x", "http://127.0.0.1:1")}, "upper case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTable([]RouteSpec{tt.spec}, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestHostBasedMultiRegionAccessPoint: a host-based route that leaves the
// algorithm open signs an S3 Multi-Region Access Point host with SigV4A over
// every region, detected from the host as for a route in the file.
func TestHostBasedMultiRegionAccessPoint(t *testing.T) {
	b := newBackend(t, "s3")
	tbl, err := NewTable([]RouteSpec{{FromHost: true, Scheme: "http", Match: Match{Host: "*.amazonaws.com"},
		Route: &Route{Name: "aws", Credentials: staticCreds}}}, Options{Transport: redirectingTransport(t, b.URL)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewRouter(tbl, Options{}))
	defer srv.Close()
	const host = "mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com"
	if status := rawRequest(t, srv.URL, "GET /k HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); status != 200 {
		t.Fatalf("status %d, want 200", status)
	}
	if b.count() != 1 {
		t.Fatalf("backend got %d requests, want 1", b.count())
	}
	g := b.got[0]
	if g.verifyErr != nil {
		t.Fatal(g.verifyErr)
	}
	if g.verified.Algorithm != "AWS4-ECDSA-P256-SHA256" || !slices.Equal(g.verified.RegionSet, []string{"*"}) || g.verified.Service != "s3" {
		t.Errorf("signed with %s for %s over %q, want SigV4A for s3 over [*]", g.verified.Algorithm, g.verified.Service, g.verified.RegionSet)
	}
}
