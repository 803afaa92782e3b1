package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/signway/signway/internal/authz"
	"github.com/signway/signway/internal/config"
)

// memUpstream answers 1 KiB from memory: the benchmarks below measure
// signway's own work per request, not sockets.
type memUpstream struct{ body []byte }

func (m memUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Length": {strconv.Itoa(len(m.body))}},
		Body:   io.NopCloser(bytes.NewReader(m.body)), ContentLength: int64(len(m.body)), Request: r}, nil
}

// BenchmarkSigningService compares, on one gateway and one route with an
// API key: signing and proxying a GET (proxy), and answering the same GET
// as a signing service, through the HTTP check endpoint and through
// Envoy's Check. Issue 10's goal is at most 1.3x the proxy's CPU.
func BenchmarkSigningService(b *testing.B) {
	b.Setenv("AWS_ACCESS_KEY_ID", "AKIDBENCHEXAMPLE")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "bench-secret")
	b.Setenv("BENCH_API_KEY", "bench-api-key-0123456789")
	cfg, err := config.Parse([]byte(`callers:
  - id: bench
    api_keys: ["${BENCH_API_KEY}"]
routes:
  - name: data
    url: https://bucket.s3.us-east-1.amazonaws.com
    credentials: {source: env}
    auth: {methods: [api_key]}
`), func(k string) (string, bool) {
		return map[string]string{"BENCH_API_KEY": "bench-api-key-0123456789"}[k], true
	})
	if err != nil {
		b.Fatal(err)
	}
	up := memUpstream{body: bytes.Repeat([]byte("x"), 1024)}
	g, err := New(context.Background(), cfg.WithDefaults(), Options{WrapTransport: func(http.RoundTripper) http.RoundTripper { return up }})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	check := authz.NewHTTPHandler(g, authz.HTTPOptions{})
	get := func() *http.Request {
		r := httptest.NewRequest("GET", "http://signway.local/reports/2026/q4.csv?versionId=3", nil)
		r.Header.Set("X-Api-Key", "bench-api-key-0123456789")
		return r
	}
	forwardAuth := func() *http.Request {
		r := httptest.NewRequest("GET", "http://signway-authz.local/check", nil)
		r.Header.Set("X-Forwarded-Method", "GET")
		r.Header.Set("X-Forwarded-Uri", "/reports/2026/q4.csv?versionId=3")
		r.Header.Set("X-Forwarded-Host", "signway.local")
		r.Header.Set("X-Api-Key", "bench-api-key-0123456789")
		return r
	}
	for _, tc := range []struct {
		name string
		h    http.Handler
		req  func() *http.Request
		want int
	}{
		{"proxy", g.Handler(), get, 200},
		{"http-check", check, forwardAuth, 200},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, tc.req())
				if w.Code != tc.want {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
	b.Run("decide", func(b *testing.B) { // what Envoy's Check adds to gRPC's own work
		b.ReportAllocs()
		for b.Loop() {
			if d := g.Decide(get()); !d.Allowed() {
				b.Fatalf("%d %s", d.Status, d.Body)
			}
		}
	})
}
