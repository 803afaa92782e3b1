package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/sigv4"
)

// TestPipelineMetricsRecorded sends requests through a proxy with signway's
// real metrics and reads back what was recorded: bytes both ways, signing and
// upstream latency, and the upstream's status.
func TestPipelineMetricsRecorded(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") == "" {
			t.Error("upstream got an unsigned request")
		}
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, strings.Repeat("x", int(n)*2+3))
	}))
	defer up.Close()
	m := admin.NewMetrics("test")
	p, err := New(Options{Route: &Route{Name: "es", Target: mustURL(t, up.URL), Service: "es", Region: "eu-west-1",
		Credentials: func(context.Context) (sigv4.Credentials, error) { return testCreds, nil }}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()

	for _, tc := range []struct{ method, path, body string }{
		{"PUT", "/slow", strings.Repeat("b", 1000)},
		{"POST", "/fail", "hello"},
		{"GET", "/", ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		if tc.body == "" {
			req.Body = nil
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	got := gather(t, m)
	want := map[string]float64{
		`signway_request_body_bytes_total{route="es"}`:            1005,
		`signway_response_body_bytes_total{route="es"}`:           (2*1000 + 3) + (2*5 + 3) + 3,
		`signway_upstream_responses_total{code="200",route="es"}`: 2,
		`signway_upstream_responses_total{code="503",route="es"}`: 1,
		`signway_upstream_duration_seconds_count{route="es"}`:     3,
		`signway_signing_duration_seconds_count{route="es"}`:      3,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// Only lower bounds: the machine may be slow, never fast.
	if s := got[`signway_upstream_duration_seconds_sum{route="es"}`]; s < 0.3 {
		t.Errorf("upstream time sums to %vs, want at least the 0.3s /slow sleeps", s)
	}
	if n := got[`signway_upstream_duration_seconds_bucket{le="0.25",route="es"}`]; n > 2 {
		t.Errorf("%v upstream calls under 0.25s, want /slow (0.3s) above", n)
	}
}

// gather flattens the registry into series -> value, labels sorted by name.
func gather(t *testing.T, m *admin.Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	labels := func(ls []*dto.LabelPair, extra ...string) string {
		var parts []string
		parts = append(parts, extra...)
		for _, l := range ls {
			parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			switch {
			case mt.Counter != nil:
				out[mf.GetName()+labels(mt.Label)] = mt.Counter.GetValue()
			case mt.Histogram != nil:
				out[mf.GetName()+"_count"+labels(mt.Label)] = float64(mt.Histogram.GetSampleCount())
				out[mf.GetName()+"_sum"+labels(mt.Label)] = mt.Histogram.GetSampleSum()
				for _, b := range mt.Histogram.Bucket {
					le := strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)
					out[mf.GetName()+"_bucket"+labels(mt.Label, `le="`+le+`"`)] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}
