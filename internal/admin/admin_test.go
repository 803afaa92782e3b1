package admin

import (
	"bufio"
	"bytes"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func do(t *testing.T, h http.Handler, method, target string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestHealth(t *testing.T) {
	h := NewHandler(Options{})
	tests := []struct {
		method, path string
		wantCode     int
		wantBody     string
	}{
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/health", 200, "ok"},
		{"HEAD", "/healthz", 200, ""},
		{"HEAD", "/health", 200, ""},
		{"POST", "/healthz", 405, "Method Not Allowed\n"},
		{"DELETE", "/health", 405, "Method Not Allowed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, body, hdr := do(t, h, tt.method, tt.path)
			if code != tt.wantCode || body != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
			if code == 200 {
				if ct := hdr.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
				if cc := hdr.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name     string
		ready    func() error
		wantCode int
		wantBody string
	}{
		{"nil func is ready", nil, 200, "ready"},
		{"nil error is ready", func() error { return nil }, 200, "ready"},
		{"error is 503 with reason", func() error { return errors.New("credentials not loaded yet") },
			503, "not ready: credentials not loaded yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := do(t, NewHandler(Options{Ready: tt.ready}), "GET", "/readyz")
			if code != tt.wantCode || body != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestReadyzFlips(t *testing.T) {
	var state atomic.Pointer[error]
	notLoaded := errors.New("config not loaded")
	state.Store(&notLoaded)
	var logs bytes.Buffer
	h := NewHandler(Options{
		Ready:  func() error { return *state.Load() },
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	steps := []struct {
		set      error
		wantCode int
		wantBody string
	}{
		{notLoaded, 503, "not ready: config not loaded"},
		{notLoaded, 503, "not ready: config not loaded"},
		{nil, 200, "ready"},
		{nil, 200, "ready"},
		{errors.New("draining"), 503, "not ready: draining"},
		{nil, 200, "ready"},
	}
	for i, s := range steps {
		err := s.set
		state.Store(&err)
		code, body, _ := do(t, h, "GET", "/readyz")
		if code != s.wantCode || body != s.wantBody {
			t.Fatalf("step %d: got %d %q, want %d %q", i, code, body, s.wantCode, s.wantBody)
		}
	}
	// Only transitions are logged: not ready, ready, not ready, ready.
	out := logs.String()
	if n := strings.Count(out, "msg=\"not ready\""); n != 2 {
		t.Errorf("logged %d not-ready transitions, want 2:\n%s", n, out)
	}
	if n := strings.Count(out, "msg=ready"); n != 2 {
		t.Errorf("logged %d ready transitions, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, `reason=draining`) {
		t.Errorf("reason not logged:\n%s", out)
	}
}

func TestPprof(t *testing.T) {
	paths := []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1", "/debug/pprof/symbol"}
	for _, enabled := range []bool{false, true} {
		h := NewHandler(Options{Pprof: enabled})
		for _, p := range paths {
			t.Run(strconv.FormatBool(enabled)+p, func(t *testing.T) {
				code, body, _ := do(t, h, "GET", p)
				want := 404
				if enabled {
					want = 200
				}
				if code != want {
					t.Fatalf("GET %s with Pprof=%v: %d, want %d", p, enabled, code, want)
				}
				if enabled && p == "/debug/pprof/" && !strings.Contains(body, "goroutine") {
					t.Errorf("index does not list profiles: %q", body)
				}
			})
		}
	}
}

func TestUnknownPath404(t *testing.T) {
	withMetrics := NewHandler(Options{Metrics: NewMetrics("test")})
	noMetrics := NewHandler(Options{})
	tests := []struct {
		name string
		h    http.Handler
		path string
	}{
		{"root", withMetrics, "/"},
		{"other", withMetrics, "/foo"},
		{"prefix of metrics", withMetrics, "/metricsx"},
		{"below healthz", withMetrics, "/healthz/x"},
		{"pprof when off", withMetrics, "/debug/pprof/heap"},
		{"metrics when nil", noMetrics, "/metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body, _ := do(t, tt.h, "GET", tt.path); code != 404 {
				t.Fatalf("GET %s: %d %q, want 404", tt.path, code, body)
			}
		})
	}
}

// scrape returns the /metrics text exposition as series text -> value,
// for example `signway_requests_total{code="200",method="GET",route="s3"}` -> "3".
func scrape(t *testing.T, h http.Handler) map[string]string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q", ct)
	}
	series := make(map[string]string)
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("malformed exposition line %q", line)
		}
		series[line[:i]] = line[i+1:]
	}
	return series
}

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics("1.2.3")
	h := NewHandler(Options{Metrics: m})

	before := float64(time.Now().UnixNano()) / 1e9
	m.ObserveRequest("s3", "GET", 200, 2*time.Millisecond)
	m.ObserveRequest("s3", "GET", 200, 3*time.Millisecond)
	m.ObserveRequest("s3", "PUT", 200, 40*time.Millisecond)
	m.ObserveRequest("s3", "GET", 403, 1*time.Millisecond)
	m.ObserveRequest("lambda", "POST", 502, 45*time.Second) // beyond the last bucket
	m.ObserveRequest("lambda", "BREW", 200, time.Millisecond)
	m.ObserveRequest("lambda", "get", 999, time.Millisecond)
	m.ObserveRequest("lambda", "GET", 42, time.Millisecond)
	m.ObserveRequest("bad\xffroute", "GET", 200, time.Millisecond) // must not panic
	m.InFlightInc()
	m.InFlightInc()
	m.InFlightInc()
	m.InFlightDec()
	m.SigningError("s3", "credentials")
	m.SigningError("s3", "credentials")
	m.SigningError("es", "body_hash")
	m.UpstreamError("s3", UpstreamTimeout)
	m.UpstreamError("s3", UpstreamConnect)
	m.UpstreamError("s3", UpstreamConnect)
	m.UpstreamError("s3", UpstreamCanceled)
	m.UpstreamError("s3", "dns weirdness")
	m.CredentialError("imds")
	m.CredentialError("web_identity")
	m.CredentialError("imds")
	m.ConfigReload(nil)
	m.ConfigReload(errors.New("bad yaml"))
	m.ConfigReload(nil)
	m.ConfigReload(errors.New("bad yaml"))
	after := float64(time.Now().UnixNano()) / 1e9

	got := scrape(t, h)
	want := map[string]string{
		`signway_requests_total{code="200",method="GET",route="s3"}`:                       "2",
		`signway_requests_total{code="200",method="PUT",route="s3"}`:                       "1",
		`signway_requests_total{code="403",method="GET",route="s3"}`:                       "1",
		`signway_requests_total{code="502",method="POST",route="lambda"}`:                  "1",
		`signway_requests_total{code="200",method="OTHER",route="lambda"}`:                 "1",
		`signway_requests_total{code="other",method="OTHER",route="lambda"}`:               "1",
		`signway_requests_total{code="other",method="GET",route="lambda"}`:                 "1",
		`signway_requests_total{code="200",method="GET",route="bad` + "\uFFFD" + `route"}`: "1",

		`signway_request_duration_seconds_count{route="s3"}`:                "4",
		`signway_request_duration_seconds_bucket{route="s3",le="0.0005"}`:   "0",
		`signway_request_duration_seconds_bucket{route="s3",le="0.001"}`:    "1",
		`signway_request_duration_seconds_bucket{route="s3",le="0.0025"}`:   "2",
		`signway_request_duration_seconds_bucket{route="s3",le="0.005"}`:    "3",
		`signway_request_duration_seconds_bucket{route="s3",le="0.025"}`:    "3",
		`signway_request_duration_seconds_bucket{route="s3",le="0.05"}`:     "4",
		`signway_request_duration_seconds_bucket{route="s3",le="30"}`:       "4",
		`signway_request_duration_seconds_bucket{route="s3",le="+Inf"}`:     "4",
		`signway_request_duration_seconds_count{route="lambda"}`:            "4",
		`signway_request_duration_seconds_bucket{route="lambda",le="30"}`:   "3",
		`signway_request_duration_seconds_bucket{route="lambda",le="+Inf"}`: "4",

		`signway_requests_in_flight`: "2",

		`signway_signing_errors_total{reason="credentials",route="s3"}`: "2",
		`signway_signing_errors_total{reason="body_hash",route="es"}`:   "1",

		`signway_upstream_errors_total{kind="timeout",route="s3"}`:  "1",
		`signway_upstream_errors_total{kind="connect",route="s3"}`:  "2",
		`signway_upstream_errors_total{kind="canceled",route="s3"}`: "1",
		`signway_upstream_errors_total{kind="other",route="s3"}`:    "1",

		`signway_credential_errors_total{source="imds"}`:         "2",
		`signway_credential_errors_total{source="web_identity"}`: "1",

		`signway_config_reloads_total{result="success"}`: "2",
		`signway_config_reloads_total{result="failure"}`: "2",
		`signway_config_last_reload_success`:             "0",

		`signway_build_info{goversion="` + runtime.Version() + `",version="1.2.3"}`: "1",
	}
	for series, v := range want {
		if g, ok := got[series]; !ok {
			t.Errorf("missing %s", series)
		} else if g != v {
			t.Errorf("%s = %s, want %s", series, g, v)
		}
	}

	sum, err := strconv.ParseFloat(got[`signway_request_duration_seconds_sum{route="s3"}`], 64)
	if err != nil || math.Abs(sum-0.046) > 1e-9 {
		t.Errorf("s3 duration sum = %v (%v), want 0.046", sum, err)
	}
	ts, err := strconv.ParseFloat(got[`signway_config_last_reload_timestamp_seconds`], 64)
	if err != nil || ts < before-1e-3 || ts > after+1e-3 {
		t.Errorf("last reload timestamp = %v (%v), want within [%v, %v]", ts, err, before, after)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "promhttp_metric_handler_errors_total{cause=\"gathering\"}"} {
		if _, ok := got[name]; !ok {
			t.Errorf("missing %s", name)
		}
	}
	// The status-code and method labels stay bounded.
	for series := range got {
		if strings.Contains(series, `method="BREW"`) || strings.Contains(series, `method="get"`) ||
			strings.Contains(series, `code="999"`) || strings.Contains(series, `code="42"`) {
			t.Errorf("unbounded label leaked: %s", series)
		}
	}
	// Metrics.Handler serves the same registry.
	if g := scrape(t, m.Handler())[`signway_requests_in_flight`]; g != "2" {
		t.Errorf("Handler(): in flight = %q, want 2", g)
	}
}

func TestMetricsInitialState(t *testing.T) {
	m := NewMetrics("dev")
	got := scrape(t, m.Handler())
	want := map[string]string{
		`signway_config_reloads_total{result="success"}`: "0",
		`signway_config_reloads_total{result="failure"}`: "0",
		`signway_config_last_reload_success`:             "1",
		`signway_requests_in_flight`:                     "0",
	}
	for series, v := range want {
		if got[series] != v {
			t.Errorf("%s = %q, want %s", series, got[series], v)
		}
	}
	if _, ok := got[`signway_config_last_reload_timestamp_seconds`]; !ok {
		t.Error("missing signway_config_last_reload_timestamp_seconds")
	}
}

func TestMetricsPrivateRegistry(t *testing.T) {
	// Two instances must not collide, and nothing may land on the default registry.
	a, b := NewMetrics("a"), NewMetrics("b")
	a.ObserveRequest("r", "GET", 200, time.Millisecond)
	if g := scrape(t, b.Handler())[`signway_requests_total{code="200",method="GET",route="r"}`]; g != "" {
		t.Errorf("instance b sees instance a's request: %q", g)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "signway_") {
			t.Errorf("%s registered on the default registry", mf.GetName())
		}
	}
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	m.ObserveRequest("r", "GET", 200, time.Millisecond)
	m.InFlightInc()
	m.InFlightDec()
	m.SigningError("r", "x")
	m.UpstreamError("r", UpstreamTimeout)
	m.CredentialError("env")
	m.ConfigReload(nil)
}

func TestMetricsHandlerMethods(t *testing.T) {
	h := NewHandler(Options{Metrics: NewMetrics("x")})
	code, body, _ := do(t, h, "HEAD", "/metrics")
	if code != 200 {
		t.Errorf("HEAD /metrics: %d %q", code, body)
	}
}

func TestObserveRequestConcurrent(t *testing.T) {
	m := NewMetrics("x")
	const goroutines, perG = 8, 500
	routes := []string{"a", "b", "c"}
	statuses := []int{200, 404, 503}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				m.InFlightInc()
				m.ObserveRequest(routes[(g+i)%3], "GET", statuses[i%3], time.Millisecond)
				m.InFlightDec()
			}
		}()
	}
	wg.Wait()
	got := scrape(t, m.Handler())
	total := 0
	for series, v := range got {
		if strings.HasPrefix(series, "signway_requests_total{") {
			n, _ := strconv.Atoi(v)
			total += n
		}
	}
	if total != goroutines*perG {
		t.Errorf("requests_total sums to %d, want %d", total, goroutines*perG)
	}
	if got["signway_requests_in_flight"] != "0" {
		t.Errorf("in flight = %s, want 0", got["signway_requests_in_flight"])
	}
}

func TestObserveRequestDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under -race or -cover")
	}
	m := NewMetrics("x")
	m.ObserveRequest("s3", "GET", 200, time.Millisecond) // creates the children
	if n := testing.AllocsPerRun(1000, func() {
		m.ObserveRequest("s3", "GET", 200, time.Millisecond)
		m.InFlightInc()
		m.InFlightDec()
	}); n != 0 {
		t.Errorf("ObserveRequest allocates %v times per call, want 0", n)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := NewMetrics("bench")
	routes := []string{"s3", "lambda", "es", "bedrock"}
	methods := []string{"GET", "PUT", "POST", "HEAD"}
	statuses := []int{200, 204, 403, 404, 500, 503}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m.ObserveRequest(routes[i&3], methods[(i>>2)&3], statuses[i%6], time.Duration(i&1023)*time.Microsecond)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				m.InFlightInc()
				m.ObserveRequest(routes[i&3], methods[(i>>2)&3], statuses[i%6], time.Duration(i&1023)*time.Microsecond)
				m.InFlightDec()
				i++
			}
		})
	})
}
