package admin

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Upstream error kinds accepted by [Metrics.UpstreamError]. Any other kind is
// recorded as [UpstreamOther] so that the label set stays bounded.
const (
	UpstreamTimeout  = "timeout"
	UpstreamConnect  = "connect"
	UpstreamCanceled = "canceled"
	UpstreamOther    = "other"
)

// requestDurationBuckets spans 0.5 ms (a loopback round trip plus signing)
// to 30 s (a large streamed upload or a slow Lambda), roughly 1-2.5-5 per decade.
var requestDurationBuckets = []float64{
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

// Metrics are the proxy's Prometheus metrics on a private registry (never
// the global default one).
//
// All methods are safe for concurrent use, and all recording methods are
// no-ops on a nil *Metrics, so callers may run without metrics by passing nil.
//
// Label values that come from outside the configuration are bounded here:
// HTTP methods outside the standard set are recorded as "OTHER", status codes
// outside 100-599 as "other", and invalid UTF-8 is replaced so that a label
// value can never make a recording call panic.
type Metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec   // route, method, code
	duration       *prometheus.HistogramVec // route
	inFlight       prometheus.Gauge
	signingErrors  *prometheus.CounterVec // route, reason
	upstreamErrors *prometheus.CounterVec // route, kind
	credErrors     *prometheus.CounterVec // source
	reloads        *prometheus.CounterVec // result
	reloadSuccess  prometheus.Gauge
	reloadError    *prometheus.GaugeVec // error: the last failed reload's reason
	reloadTime     prometheus.Gauge

	pipeline    pipelineMetrics    // upstream, signing, bytes
	credentials credentialsMetrics // refreshes, expiry, STS

	// reqCache maps (route, method, status) to the label children of
	// requests and duration, so that the hot path neither locks nor
	// allocates.
	reqCache cowCache[reqKey, *reqChildren]

	handlerOnce sync.Once
	handler     http.Handler
}

type reqKey struct {
	route  string
	method string
	status int
}

type reqChildren struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// NewMetrics returns a Metrics with every signway metric, the Go runtime
// collector and the process collector registered on a new private registry.
// version is exposed as signway_build_info{version,goversion} 1.
//
// The configuration is taken to have been loaded successfully at creation:
// signway_config_last_reload_success starts at 1 and
// signway_config_last_reload_timestamp_seconds at the creation time.
func NewMetrics(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signway_requests_total",
			Help: "Proxied requests by route, method and response status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "signway_request_duration_seconds",
			Help:    "Time from receiving a proxied request to finishing its response, by route.",
			Buckets: requestDurationBuckets,
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signway_requests_in_flight",
			Help: "Proxied requests currently being served.",
		}),
		signingErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signway_signing_errors_total",
			Help: "Requests that could not be signed, by route and reason.",
		}, []string{"route", "reason"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signway_upstream_errors_total",
			Help: "Upstream round trips that failed without a response, by route and kind (timeout, connect, canceled, other).",
		}, []string{"route", "kind"}),
		credErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signway_credential_errors_total",
			Help: "Failures to obtain AWS credentials, by credential source.",
		}, []string{"source"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signway_config_reloads_total",
			Help: "Configuration reload attempts by result (success, failure).",
		}, []string{"result"}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signway_config_last_reload_success",
			Help: "Whether the last configuration reload attempt succeeded (1) or failed (0).",
		}),
		reloadError: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signway_config_last_reload_error",
			Help: "1, with the reason as a label, while the last configuration reload attempt has failed; absent after a success.",
		}, []string{"error"}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signway_config_last_reload_timestamp_seconds",
			Help: "Unix time of the last configuration reload attempt (or of startup).",
		}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "signway_build_info",
		Help:        "Build information; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": validUTF8(version), "goversion": runtime.Version()},
	})
	buildInfo.Set(1)

	reg.MustRegister(
		m.requests, m.duration, m.inFlight,
		m.signingErrors, m.upstreamErrors, m.credErrors,
		m.reloads, m.reloadSuccess, m.reloadError, m.reloadTime,
		buildInfo,
	)
	m.pipeline.register(reg)
	m.credentials.register(reg)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	// Export both results from the start so that rate() and increase()
	// see the first failure.
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.reloadSuccess.Set(1)
	m.reloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
	return m
}

// Registry returns the private registry, for collectors owned by other
// packages (for example a credential cache's gauges).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest records one finished proxied request:
// signway_requests_total{route,method,code} and
// signway_request_duration_seconds{route}.
//
// After the first call for a given (route, method, status) it takes one
// atomic load and one map lookup and does not allocate.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if status < 100 || status >= 600 {
		status = 0 // one "other" child for every out-of-range code
	}
	k := reqKey{route: route, method: normalizeMethod(method), status: status}
	c := m.reqCache.get(k, m.newRequestChildren)
	c.count.Inc()
	c.duration.Observe(d.Seconds())
}

func (m *Metrics) newRequestChildren(k reqKey) (reqKey, *reqChildren) {
	route := validUTF8(k.route)
	// The key keeps the caller's route string; copy it so the cache does not
	// pin a larger buffer the string may have been sliced from.
	k.route = strings.Clone(k.route)
	return k, &reqChildren{
		count:    m.requests.WithLabelValues(route, k.method, statusLabel(k.status)),
		duration: m.duration.WithLabelValues(route),
	}
}

// InFlightInc increments signway_requests_in_flight. Pair every call with
// [Metrics.InFlightDec], typically with defer.
func (m *Metrics) InFlightInc() {
	if m == nil {
		return
	}
	m.inFlight.Inc()
}

// InFlightDec decrements signway_requests_in_flight.
func (m *Metrics) InFlightDec() {
	if m == nil {
		return
	}
	m.inFlight.Dec()
}

// SigningError counts a request that could not be signed:
// signway_signing_errors_total{route,reason}. reason should come from a
// small fixed set chosen by the caller (for example "credentials",
// "body_hash", "presign").
func (m *Metrics) SigningError(route, reason string) {
	if m == nil {
		return
	}
	m.signingErrors.WithLabelValues(validUTF8(route), validUTF8(reason)).Inc()
}

// UpstreamError counts an upstream round trip that failed without a
// response: signway_upstream_errors_total{route,kind}. kind is one of
// [UpstreamTimeout], [UpstreamConnect], [UpstreamCanceled] or
// [UpstreamOther]; anything else is recorded as [UpstreamOther].
func (m *Metrics) UpstreamError(route, kind string) {
	if m == nil {
		return
	}
	switch kind {
	case UpstreamTimeout, UpstreamConnect, UpstreamCanceled, UpstreamOther:
	default:
		kind = UpstreamOther
	}
	m.upstreamErrors.WithLabelValues(validUTF8(route), kind).Inc()
}

// CredentialError counts a failure to obtain credentials from a source
// (for example "env", "profile", "web_identity", "imds", "assume_role"):
// signway_credential_errors_total{source}.
func (m *Metrics) CredentialError(source string) {
	if m == nil {
		return
	}
	m.credErrors.WithLabelValues(validUTF8(source)).Inc()
}

// ConfigReload records a configuration reload attempt; err is its result.
// It increments signway_config_reloads_total{result="success"|"failure"}
// and sets signway_config_last_reload_success (1 or 0) and
// signway_config_last_reload_timestamp_seconds (now), and keeps the last
// failure's reason in signway_config_last_reload_error{error} until a
// reload succeeds.
func (m *Metrics) ConfigReload(err error) {
	if m == nil {
		return
	}
	m.reloadError.Reset()
	if err == nil {
		m.reloads.WithLabelValues("success").Inc()
		m.reloadSuccess.Set(1)
	} else {
		m.reloads.WithLabelValues("failure").Inc()
		m.reloadSuccess.Set(0)
		m.reloadError.WithLabelValues(reloadReason(err)).Set(1)
	}
	m.reloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
}

// reloadReason fits an error into a label: the first problem, one line,
// valid UTF-8, at most 200 bytes. Config errors never carry secret values.
func reloadReason(err error) string {
	msg := strings.ToValidUTF8(err.Error(), "?")
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] + " (and more)"
	}
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "..."
	}
	return msg
}

// Handler serves the registry in the Prometheus text (or, when negotiated,
// OpenMetrics/protobuf) exposition format. Gathering errors are counted in
// promhttp_metric_handler_errors_total and not logged; [NewHandler] logs them.
func (m *Metrics) Handler() http.Handler {
	m.handlerOnce.Do(func() { m.handler = m.handlerWithLog(nil) })
	return m.handler
}

func (m *Metrics) handlerWithLog(logger *slog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{
		Registry:      m.reg,
		ErrorHandling: promhttp.ContinueOnError,
		// A scrape should never pile up behind slow ones.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}
	if logger != nil {
		opts.ErrorLog = slogPrintln{logger}
	}
	return promhttp.HandlerFor(m.reg, opts)
}

// slogPrintln adapts a *slog.Logger to promhttp.Logger.
type slogPrintln struct{ l *slog.Logger }

func (s slogPrintln) Println(v ...any) {
	s.l.Error("metrics exposition failed", "error", strings.TrimSpace(fmt.Sprintln(v...)))
}

// statusLabels holds the label text of every valid status code, so that
// creating a child never needs strconv on the hot path's first call either.
var statusLabels = func() [600]string {
	var s [600]string
	for i := 100; i < 600; i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(status int) string {
	if status >= 100 && status < 600 {
		return statusLabels[status]
	}
	return "other"
}

// normalizeMethod maps the standard methods to themselves (without
// allocating) and everything else to "OTHER", since the method is chosen by
// the caller and must not be allowed to create unbounded label values.
func normalizeMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// validUTF8 makes s safe as a label value: client_golang panics in
// WithLabelValues on invalid UTF-8.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
