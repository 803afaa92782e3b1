// Package telemetry traces requests with OpenTelemetry: a server span per
// request, continued from the caller's W3C traceparent/tracestate, with
// child spans for fetching credentials, signing and the upstream call, whose
// trace context goes upstream (after signing, and never signed). It is
// configured only by the standard OTEL_* environment variables and is off
// unless an OTLP endpoint is set; spans are exported over OTLP/HTTP.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/signway/signway/internal/reqinfo"
)

// Tracing is a running tracer. A nil *Tracing is tracing turned off: its
// Handler returns the handler it is given and Shutdown does nothing.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	endpoint string
}

// FromEnv starts tracing when getenv names an OTLP endpoint
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT) and
// neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none says
// otherwise; it returns nil, nil when tracing is off. The exporter, the
// sampler (OTEL_TRACES_SAMPLER, default parentbased_always_on), the batch
// processor (OTEL_BSP_*) and the resource (OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES) read the rest of the standard variables
// themselves, from the process environment.
func FromEnv(ctx context.Context, getenv func(string) string, version string) (*Tracing, error) {
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if endpoint == "" || strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return nil, nil
	}
	var errs []error
	if e := getenv("OTEL_TRACES_EXPORTER"); e != "" && e != "otlp" {
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: signway exports traces with otlp (or none to turn tracing off)", e))
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := getenv(k); p != "" && p != "http/protobuf" {
			errs = append(errs, fmt.Errorf("%s=%q: signway sends OTLP over HTTP; set http/protobuf and point the endpoint at the collector's HTTP port (4318)", k, p))
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter for %s: %w", endpoint, err)
	}
	env, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES: %w (write key=value pairs separated by commas)", err)
	}
	// The environment's service name and attributes win over the defaults.
	res, err := resource.Merge(resource.NewSchemaless(semconv.ServiceName("signway"), semconv.ServiceVersion(version)), env)
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{
		provider: tp,
		tracer:   tp.Tracer("github.com/signway/signway", trace.WithInstrumentationVersion(version)),
		prop:     propagation.TraceContext{},
		endpoint: endpoint,
	}, nil
}

// Endpoint is where spans go, for the startup log line; a password in the
// URL is masked.
func (t *Tracing) Endpoint() string {
	if t == nil {
		return ""
	}
	if u, err := url.Parse(t.endpoint); err == nil {
		return u.Redacted()
	}
	return "(unparsable endpoint)"
}

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Handler wraps next with a server span per request. It goes around
// accesslog.Handler: it puts the request's reqinfo.Info in the context (the
// access log then names the trace) and reads back the request ID and the
// status the access log recorded.
func (t *Tracing) Handler(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPath(r.URL.Path),
			semconv.ServerAddress(r.Host),
			semconv.ClientAddress(r.RemoteAddr),
		))
		defer span.End()
		info := reqinfo.From(ctx)
		if info == nil {
			info = &reqinfo.Info{}
			ctx = reqinfo.With(ctx, info)
		}
		info.Tracer = t
		info.TraceID = span.SpanContext().TraceID().String()
		next.ServeHTTP(w, r.WithContext(ctx))

		status := info.Status
		attrs := []attribute.KeyValue{semconv.HTTPResponseStatusCode(status), attribute.String("signway.request_id", info.ID)}
		if info.Route != "" {
			span.SetName(r.Method + " " + info.Route)
			attrs = append(attrs, attribute.String("signway.route", info.Route))
		}
		if info.Caller != "" {
			attrs = append(attrs, attribute.String("signway.caller", info.Caller))
		}
		span.SetAttributes(attrs...)
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// StartPhase implements reqinfo.Tracer: a child span per phase; for the
// upstream call a client span whose context goes out in h.
func (t *Tracing) StartPhase(ctx context.Context, p reqinfo.Phase, h http.Header) (context.Context, func(int, error)) {
	kind := trace.SpanKindInternal
	if p == reqinfo.Upstream {
		kind = trace.SpanKindClient
	}
	ctx, span := t.tracer.Start(ctx, p.String(), trace.WithSpanKind(kind))
	if p == reqinfo.Upstream && h != nil {
		t.prop.Inject(ctx, propagation.HeaderCarrier(h))
	}
	return ctx, func(status int, err error) {
		if status != 0 {
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		}
		if err != nil {
			// The error's text names hosts and sources, never a secret:
			// proxy and credentials errors are written for logs.
			span.SetStatus(codes.Error, err.Error())
		} else if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}
