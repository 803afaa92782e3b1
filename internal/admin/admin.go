// Package admin owns signway's utility port: health (/healthz, /health),
// readiness (/readyz), Prometheus metrics (/metrics) and, only when asked,
// pprof (/debug/pprof/); and [Probe], `signway healthcheck`'s question to it.
//
// The proxy's metrics live on a private registry held by [Metrics]; nothing
// is registered on the prometheus default registry.
package admin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync/atomic"
)

// Options configures [NewHandler].
type Options struct {
	// Metrics is served on /metrics. When nil, /metrics is not mounted (404).
	Metrics *Metrics
	// Ready reports readiness: nil means ready. A non-nil error makes
	// /readyz answer 503 with the error text. Ready is called on every
	// /readyz request and should return quickly. A nil Ready means always
	// ready.
	Ready func() error
	// Pprof mounts net/http/pprof under /debug/pprof/. Off by default: the
	// profiles expose internals and profiling costs CPU.
	Pprof bool
	// Logger receives readiness transitions and metrics exposition errors.
	// nil discards them.
	Logger *slog.Logger
}

// NewHandler returns the utility port's handler:
//
//   - GET /healthz and GET /health: 200 "ok" while the process runs;
//   - GET /readyz: 200 "ready", or 503 "not ready: <reason>";
//   - /metrics: the Prometheus exposition of opts.Metrics;
//   - /debug/pprof/...: the pprof handlers, only when opts.Pprof;
//   - anything else: 404.
//
// Health and readiness answer GET and HEAD only (405 otherwise), with
// Cache-Control: no-store.
func NewHandler(opts Options) http.Handler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()

	health := func(w http.ResponseWriter, req *http.Request) {
		writeText(w, req, http.StatusOK, "ok")
	}
	mux.HandleFunc("GET /healthz", health)
	mux.HandleFunc("GET /health", health)

	r := &readiness{check: opts.Ready, logger: logger}
	mux.HandleFunc("GET /readyz", r.serveHTTP)

	if opts.Metrics != nil {
		mux.Handle("/metrics", opts.Metrics.handlerWithLog(logger))
	}

	if opts.Pprof {
		// Registered explicitly on this mux; the package's init also
		// registers on http.DefaultServeMux, which signway never serves.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

type readiness struct {
	check  func() error
	logger *slog.Logger
	// notReady remembers the last answer, so that only transitions are logged.
	notReady atomic.Bool
}

func (r *readiness) serveHTTP(w http.ResponseWriter, req *http.Request) {
	var err error
	if r.check != nil {
		err = r.check()
	}
	if err != nil {
		if !r.notReady.Swap(true) {
			r.logger.Warn("not ready", "reason", err.Error())
		}
		writeText(w, req, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	if r.notReady.Swap(false) {
		r.logger.Info("ready")
	}
	writeText(w, req, http.StatusOK, "ready")
}

func writeText(w http.ResponseWriter, req *http.Request, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if req.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}
