package admin

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// upstreamDurationBuckets are requestDurationBuckets: the upstream's time
// to answer is most of a request's time, and equal buckets let a dashboard
// subtract one from the other.
var upstreamDurationBuckets = requestDurationBuckets

// signingDurationBuckets span 10 µs (a cached key and a header signature)
// to 10 s (hashing a large body spooled to disk, or a cold credentials
// cache waiting for STS).
var signingDurationBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
}

// pipelineMetrics are the per-request series besides requests_total and
// request_duration_seconds: what the upstream answered and how fast, how
// long signing took, and body bytes.
type pipelineMetrics struct {
	upstreamDuration  *prometheus.HistogramVec // route
	upstreamResponses *prometheus.CounterVec   // route, code
	signingDuration   *prometheus.HistogramVec // route
	requestBytes      *prometheus.CounterVec   // route
	responseBytes     *prometheus.CounterVec   // route

	routes    cowCache[string, *routeChildren]
	upstreams cowCache[reqKey, prometheus.Counter] // method unused
}

type routeChildren struct {
	upstream, signing prometheus.Observer
	in, out           prometheus.Counter
}

func (p *pipelineMetrics) register(reg *prometheus.Registry) {
	p.upstreamDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "signway_upstream_duration_seconds",
		Help:    "Time from handing a signed request to the upstream to receiving its response headers, by route.",
		Buckets: upstreamDurationBuckets,
	}, []string{"route"})
	p.upstreamResponses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signway_upstream_responses_total",
		Help: "Responses received from upstreams, by route and the upstream's status code.",
	}, []string{"route", "code"})
	p.signingDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "signway_signing_duration_seconds",
		Help:    "Time from the proxy taking a request (routed, caller authenticated) to handing it signed to the upstream: credentials from the cache, the payload hash when the route's payload mode needs one, and the signature; by route.",
		Buckets: signingDurationBuckets,
	}, []string{"route"})
	p.requestBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signway_request_body_bytes_total",
		Help: "Request body bytes read from callers, by route.",
	}, []string{"route"})
	p.responseBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signway_response_body_bytes_total",
		Help: "Response body bytes written to callers, by route.",
	}, []string{"route"})
	reg.MustRegister(p.upstreamDuration, p.upstreamResponses, p.signingDuration,
		p.requestBytes, p.responseBytes)
}

func (p *pipelineMetrics) route(route string) *routeChildren {
	return p.routes.get(route, func(r string) (string, *routeChildren) {
		label := validUTF8(r)
		return strings.Clone(r), &routeChildren{
			upstream: p.upstreamDuration.WithLabelValues(label),
			signing:  p.signingDuration.WithLabelValues(label),
			in:       p.requestBytes.WithLabelValues(label),
			out:      p.responseBytes.WithLabelValues(label),
		}
	})
}

// ObserveUpstream records a response received from the upstream, d after
// the signed request was handed to it (time to response headers):
// signway_upstream_duration_seconds{route} and
// signway_upstream_responses_total{route,code}. A round trip that failed
// without a response is [Metrics.UpstreamError] instead.
func (m *Metrics) ObserveUpstream(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	p := &m.pipeline
	p.route(route).upstream.Observe(d.Seconds())
	if status < 100 || status >= 600 {
		status = 0
	}
	p.upstreams.get(reqKey{route: route, status: status}, func(k reqKey) (reqKey, prometheus.Counter) {
		c := p.upstreamResponses.WithLabelValues(validUTF8(k.route), statusLabel(k.status))
		k.route = strings.Clone(k.route)
		return k, c
	}).Inc()
}

// ObserveSigning records the time a request spent in the signing step
// before it went to the upstream: signway_signing_duration_seconds{route}.
func (m *Metrics) ObserveSigning(route string, d time.Duration) {
	if m == nil {
		return
	}
	m.pipeline.route(route).signing.Observe(d.Seconds())
}

// AddBodyBytes counts a finished request's body bytes: in read from the
// caller (signway_request_body_bytes_total{route}) and out written back to
// it (signway_response_body_bytes_total{route}).
func (m *Metrics) AddBodyBytes(route string, in, out int64) {
	if m == nil {
		return
	}
	c := m.pipeline.route(route)
	if in > 0 {
		c.in.Add(float64(in))
	}
	if out > 0 {
		c.out.Add(float64(out))
	}
}
