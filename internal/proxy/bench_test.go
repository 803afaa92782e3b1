package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
)

// memUpstream answers every request with 1 KiB from memory, so the
// benchmarks below measure the proxy's own work per request (allocations
// above all, which do not depend on how busy the machine is), not sockets.
type memUpstream struct{ body []byte }

func (m memUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/octet-stream"}, "Content-Length": {strconv.Itoa(len(m.body))}},
		Body:          io.NopCloser(bytes.NewReader(m.body)),
		ContentLength: int64(len(m.body)), Request: r}, nil
}

// BenchmarkProxyGET compares signway's handler with the bare
// httputil.ReverseProxy that make bench uses as its baseline, on the same
// in-memory upstream: the difference is routing, signing, the signing clone
// and metrics.
func BenchmarkProxyGET(b *testing.B) {
	up := memUpstream{body: bytes.Repeat([]byte("x"), 1024)}
	target, _ := url.Parse("https://abcdef.execute-api.us-east-1.amazonaws.com")
	bare := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }, Transport: up, BufferPool: bufferPool{}}
	sw, err := New(Options{Route: &Route{Name: "bench", Target: target, Service: "execute-api", Region: "us-east-1", Credentials: staticCreds},
		Transport: up, Conns: &UpstreamConns{}})
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"signway", sw}} {
		b.Run(h.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "http://signway.local/prod/items/42?limit=10", nil)
			req.Header.Set("User-Agent", "wrk")
			req.Header.Set("Accept", "*/*")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
