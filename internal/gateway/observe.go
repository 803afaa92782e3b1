package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/signway/signway/internal/accesslog"
	"github.com/signway/signway/internal/telemetry"
)

// Observe wraps h in tracing (from the OTEL_* environment, reporting
// version) and the access log to access (nil: none): tracing outside, so
// the access log names the trace. Request IDs are given even without an
// access log. stop flushes the last spans.
func Observe(ctx context.Context, h http.Handler, access *slog.Logger, version string, log *slog.Logger) (_ http.Handler, stop func(), _ error) {
	tr, err := telemetry.FromEnv(ctx, os.Getenv, version)
	if err != nil {
		return nil, nil, err
	}
	if tr != nil {
		log.Info("tracing with OpenTelemetry", "endpoint", tr.Endpoint())
	}
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(sctx); err != nil {
			log.Warn("could not export the last spans", "error", err)
		}
	}
	return tr.Handler(accesslog.Handler(h, accesslog.Options{Logger: access})), stop, nil
}
