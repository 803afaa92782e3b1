package accesslog

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/signway/signway/internal/reqinfo"
)

// BenchmarkHandler is the access log's cost per request around a handler
// that does what the proxy does to the record: with the log off (request
// IDs only) and on (a JSON line to a discarding writer).
func BenchmarkHandler(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqinfo.From(r.Context()).Route = "s3"
		_, end := reqinfo.Begin(r.Context(), reqinfo.Upstream, r.Header)
		end.End(http.StatusOK, nil)
		w.Write([]byte("ok"))
	})
	b.Run("bare", func(b *testing.B) {
		req := reqinfo.With(httptest.NewRequest(http.MethodGet, "/bucket/key?versionId=3", nil).Context(), &reqinfo.Info{})
		r := httptest.NewRequest(http.MethodGet, "/bucket/key?versionId=3", nil).WithContext(req)
		b.ReportAllocs()
		for b.Loop() {
			next.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
	for _, bc := range []struct {
		name string
		log  *slog.Logger
	}{
		{"off", nil},
		{"json", slog.New(slog.NewJSONHandler(io.Discard, nil))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := Handler(next, Options{Logger: bc.log})
			req := httptest.NewRequest(http.MethodGet, "/bucket/key?versionId=3", nil)
			b.ReportAllocs()
			for b.Loop() {
				req.Header.Del(Header)
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
