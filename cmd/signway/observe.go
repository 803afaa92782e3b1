package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/signway/signway/internal/accesslog"
	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/telemetry"
)

// observe wraps the gateway's handler in tracing (from the OTEL_*
// environment) and the access log (--access-log, else the config's
// access_log): tracing outside, so the access log names the trace. Request
// IDs are given even with the access log off. stop flushes the spans and
// closes the log file.
func observe(ctx context.Context, h http.Handler, o *options, cfg *config.Config, stdout, stderr io.Writer, log *slog.Logger) (http.Handler, func(), error) {
	dest := o.accessLog
	if dest == "" {
		dest = cfg.AccessLog
	}
	access, closeLog, err := accesslog.Open(dest, o.logFormat, stdout, stderr)
	if err != nil {
		return nil, nil, &cliflag.UsageError{Err: err}
	}
	tr, err := telemetry.FromEnv(ctx, os.Getenv, version)
	if err != nil {
		closeLog()
		return nil, nil, err
	}
	if tr != nil {
		log.Info("tracing with OpenTelemetry", "endpoint", tr.Endpoint())
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(sctx); err != nil {
			log.Warn("could not export the last spans", "error", err)
		}
		closeLog()
	}
	return tr.Handler(accesslog.Handler(h, accesslog.Options{Logger: access})), stop, nil
}
