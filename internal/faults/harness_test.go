package faults

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

// soakFor is how long each scenario runs under `make soak`; zero runs the
// short, bounded version.
func soakFor(t *testing.T) time.Duration {
	s := os.Getenv("SIGNWAY_SOAK")
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("SIGNWAY_SOAK=%q: want a duration such as 2m", s)
	}
	return d
}

// tally counts what a scenario's requests got.
type tally struct {
	ok, failed, unexpected atomic.Int64
	mu                     sync.Mutex
	firstUnexpected        []string
}

func (c *tally) bad(format string, a ...any) {
	c.unexpected.Add(1)
	c.mu.Lock()
	if len(c.firstUnexpected) < 5 {
		c.firstUnexpected = append(c.firstUnexpected, fmt.Sprintf(format, a...))
	}
	c.mu.Unlock()
}

// load runs workers goroutines calling one(worker, i) for i = 0, 1, ...:
// iterations times each, or until the soak time is up.
func load(t *testing.T, workers, iterations int, one func(w, i int)) {
	t.Helper()
	soak := soakFor(t)
	deadline := time.Now().Add(soak)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; soak > 0 && time.Now().Before(deadline) || soak == 0 && i < iterations; i++ {
				one(w, i)
			}
		}()
	}
	wg.Wait()
}

// resources is what a run may not leave behind.
type resources struct {
	goroutines int
	fds        int
	heap       uint64
}

func measure() resources {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return resources{goroutines: runtime.NumGoroutine(), fds: openFDs(), heap: m.HeapInuse}
}

// openFDs counts this process's open file descriptors (Linux; -1 elsewhere).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// spoolFiles counts open temporary files of spooled bodies (they are
// unlinked at once, so only their descriptors show them).
func spoolFiles() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.Contains(l, "signway-body-") {
			n++
		}
	}
	return n
}

// peakSampler records the highest heap and goroutine count while a
// scenario runs.
type peakSampler struct {
	heap, goroutines atomic.Uint64
	stop             chan struct{}
	done             chan struct{}
}

func samplePeaks() *peakSampler {
	p := &peakSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > p.heap.Load() {
				p.heap.Store(m.HeapInuse)
			}
			if g := uint64(runtime.NumGoroutine()); g > p.goroutines.Load() {
				p.goroutines.Store(g)
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *peakSampler) end() { close(p.stop); <-p.done }

// gateway is signway's proxy in front of an upstream, as cmd/signway
// assembles it: a route table behind a Router, one upstream transport, one
// spool budget.
type gateway struct {
	*httptest.Server
	router    *proxy.Router
	transport *http.Transport
	budget    *proxy.SpoolBudget
	spoolDir  string
	client    *http.Client
}

type routeOpts struct {
	target   *url.URL
	creds    proxy.CredentialsFunc
	payload  config.PayloadMode
	idle     time.Duration
	response time.Duration
}

func newGateway(t *testing.T, o routeOpts) *gateway {
	t.Helper()
	tr, err := proxy.NewTransport(proxy.TransportOptions{ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{transport: tr, budget: proxy.NewSpoolBudget(8 << 20), spoolDir: t.TempDir(),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	g.router = proxy.NewRouter(g.table(t, o), proxy.Options{})
	g.Server = httptest.NewServer(g.router)
	t.Cleanup(func() {
		g.Close()
		tr.CloseIdleConnections()
		g.client.CloseIdleConnections()
	})
	return g
}

// table builds one generation of routes, as a reload does.
func (g *gateway) table(t *testing.T, o routeOpts) *proxy.Table {
	t.Helper()
	rt := &proxy.Route{Name: "s3", Target: o.target, Service: "s3", Region: "us-east-1", Credentials: o.creds,
		Payload: o.payload, SpoolDir: g.spoolDir, SpoolMemoryBytes: 64 << 10, BodyIdleTimeout: o.idle, ResponseTimeout: o.response}
	tbl, err := proxy.NewTable([]proxy.RouteSpec{{Route: rt, Transport: g.transport}}, proxy.Options{SpoolMemory: g.budget})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// checkReleased waits for what the scenario used to be let go (idle
// connections are closed first: they are kept on purpose), then fails the
// test for anything left: goroutines, descriptors, spool files and memory
// counted against the spool budget, heap beyond 64 MiB over the start.
func (g *gateway) checkReleased(t *testing.T, before resources, extra ...interface{ CloseIdleConnections() }) {
	t.Helper()
	var now resources
	deadline := time.Now().Add(30 * time.Second)
	for {
		g.client.CloseIdleConnections()
		g.transport.CloseIdleConnections()
		for _, e := range extra {
			e.CloseIdleConnections()
		}
		now = measure()
		settled := now.goroutines <= before.goroutines+2 && (before.fds < 0 || now.fds <= before.fds+2) &&
			spoolFiles() == 0 && g.budget.InUse() == 0
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if now.goroutines > before.goroutines+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left (started with %d):\n%s", now.goroutines-before.goroutines, before.goroutines, buf[:runtime.Stack(buf, true)])
	}
	if before.fds >= 0 && now.fds > before.fds+2 {
		t.Errorf("%d file descriptors left (started with %d)", now.fds-before.fds, before.fds)
	}
	if n := spoolFiles(); n > 0 {
		t.Errorf("%d spool files still open", n)
	}
	if ents, _ := os.ReadDir(g.spoolDir); len(ents) > 0 {
		t.Errorf("%d files left in the spool directory", len(ents))
	}
	if n := g.budget.InUse(); n != 0 {
		t.Errorf("%d bytes still counted against the spool budget", n)
	}
	if now.heap > before.heap+64<<20 {
		t.Errorf("heap grew from %d to %d MiB", before.heap>>20, now.heap>>20)
	}
}

// report logs a scenario's figures (the soak report's lines).
func report(t *testing.T, c *tally, start time.Time, before resources, p *peakSampler) {
	t.Helper()
	line := fmt.Sprintf("| %s | %s | %d | %d | %d | %d | %d MiB |", strings.TrimPrefix(t.Name(), "TestFaults/"),
		time.Since(start).Round(time.Second), c.ok.Load(), c.failed.Load(), c.unexpected.Load(),
		p.goroutines.Load()-uint64(before.goroutines), (p.heap.Load()-min(p.heap.Load(), before.heap))>>20)
	t.Log(line)
	if f := os.Getenv("SIGNWAY_SOAK_REPORT"); f != "" {
		if out, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(out, line)
			out.Close()
		}
	}
	if n := c.unexpected.Load(); n > 0 {
		t.Errorf("%d requests failed that should have succeeded (or failed wrongly); first: %s", n, strings.Join(c.firstUnexpected, "; "))
	}
}

// faultMode is what the injector does to one upstream connection.
type faultMode int

const (
	pass      faultMode = iota
	resetReq            // reset after part of the request
	resetResp           // reset after part of the response
	hang                // read nothing, answer nothing
	slowReads           // take the request slowly
)

// injector sits between signway and the upstream at TCP level, choosing a
// fault for each new connection.
type injector struct {
	ln     net.Listener
	target string
	choose func(n int64) faultMode
	conns  atomic.Int64
	faults atomic.Int64 // connections given a fault other than slowReads
	quit   chan struct{}
	wg     sync.WaitGroup
}

func newInjector(t *testing.T, target string, choose func(n int64) faultMode) *injector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &injector{ln: ln, target: target, choose: choose, quit: make(chan struct{})}
	in.wg.Add(1)
	go in.serve()
	t.Cleanup(func() { close(in.quit); ln.Close(); in.wg.Wait() })
	return in
}

// checkAttributed fails the test if more requests failed than connections
// were given a fault: every failure must be one the injector caused.
func (in *injector) checkAttributed(t *testing.T, c *tally) {
	t.Helper()
	if c.failed.Load() > in.faults.Load() {
		t.Errorf("%d requests failed but only %d connections were given a fault", c.failed.Load(), in.faults.Load())
	}
}

func (in *injector) url() *url.URL { return &url.URL{Scheme: "http", Host: in.ln.Addr().String()} }

func (in *injector) serve() {
	defer in.wg.Done()
	for {
		c, err := in.ln.Accept()
		if err != nil {
			return
		}
		mode := in.choose(in.conns.Add(1))
		if mode != pass && mode != slowReads {
			in.faults.Add(1)
		}
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			in.handle(c.(*net.TCPConn), mode)
		}()
	}
}

func reset(c *net.TCPConn) { c.SetLinger(0); c.Close() }

func (in *injector) handle(c *net.TCPConn, mode faultMode) {
	if mode == hang {
		defer c.Close()
		select {
		case <-in.quit:
		case <-waitClosed(c):
		}
		return
	}
	up, err := net.Dial("tcp", in.target)
	if err != nil {
		reset(c)
		return
	}
	u := up.(*net.TCPConn)
	var once sync.Once
	kill := func() { once.Do(func() { reset(c); reset(u) }) }
	done := make(chan struct{}, 2)
	go func() { // caller side -> upstream
		defer func() { done <- struct{}{} }()
		switch mode {
		case resetReq:
			io.CopyN(u, c, 20<<10)
			kill()
		case slowReads:
			buf := make([]byte, 8<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := u.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
			u.CloseWrite()
		default:
			io.Copy(u, c)
			u.CloseWrite()
		}
	}()
	go func() { // upstream -> caller side
		defer func() { done <- struct{}{} }()
		if mode == resetResp {
			io.CopyN(c, u, 300)
			kill()
			return
		}
		io.Copy(c, u)
		c.CloseWrite()
	}()
	select {
	case <-done:
		<-done
	case <-in.quit:
	}
	kill()
}

// waitClosed is closed when the peer closes c (or the test ends it).
func waitClosed(c net.Conn) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c)
		close(ch)
	}()
	return ch
}

// verifyingUpstream is an S3 stand-in that checks every signature against
// the keys it knows, for scenarios whose credentials versitygw cannot know
// (rotation, STS-issued keys); it stores nothing.
func verifyingUpstream(t *testing.T, keys *sync.Map) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := sigv4.Verify(r, sigv4.VerifyOptions{Now: time.Now(), Service: "s3",
			Lookup: func(id string) (sigv4.Credentials, error) {
				if c, ok := keys.Load(id); ok {
					return c.(sigv4.Credentials), nil
				}
				return sigv4.Credentials{}, fmt.Errorf("unknown key %s", id)
			}})
		if err == nil {
			var body io.Reader
			if body, err = sigv4.VerifiedBody(r, v); err == nil {
				_, err = io.Copy(io.Discard, body)
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func staticCreds(c sigv4.Credentials) proxy.CredentialsFunc {
	return func(context.Context) (sigv4.Credentials, error) { return c, nil }
}

type httptestServer = httptest.Server

func newHTTPTest(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
