package admin

import "github.com/prometheus/client_golang/prometheus"

// UpstreamConns is what the upstream transports count
// (*proxy.UpstreamConns implements it).
type UpstreamConns interface {
	Opened() uint64
	Open() int64
	InFlight(h2 bool) int64
}

// ObserveUpstreamConns exports c's counts, read at scrape time:
// connections opened and open, and responses in flight by protocol. Many
// HTTP/2 streams in flight on one or two open connections is the sign that
// an upstream's connection, not signway, is the bottleneck.
func (m *Metrics) ObserveUpstreamConns(c UpstreamConns) {
	if m == nil || c == nil {
		return
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "signway_upstream_connections_opened_total",
			Help: "Upstream connections dialled (TCP; TLS and HTTP/2 run on top).",
		}, func() float64 { return float64(c.Opened()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signway_upstream_connections_open",
			Help: "Upstream connections open now, idle or in use.",
		}, func() float64 { return float64(c.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "signway_upstream_in_flight",
			Help:        "Upstream responses being received now: HTTP/2 streams, or HTTP/1.1 connections in use.",
			ConstLabels: prometheus.Labels{"protocol": "h2"},
		}, func() float64 { return float64(c.InFlight(true)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "signway_upstream_in_flight",
			Help:        "Upstream responses being received now: HTTP/2 streams, or HTTP/1.1 connections in use.",
			ConstLabels: prometheus.Labels{"protocol": "http/1.1"},
		}, func() float64 { return float64(c.InFlight(false)) }),
	} {
		// A second gateway on the same metrics (tests) keeps the first's.
		_ = m.reg.Register(c)
	}
}
