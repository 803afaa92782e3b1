package admin

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// authMetrics are caller authentication's counters, registered on first
// use so that this file stays apart from the core set.
type authMetrics struct {
	once       sync.Once
	failures   *prometheus.CounterVec // route, reason
	storeFails prometheus.Counter
}

var authByMetrics sync.Map // *Metrics -> *authMetrics

func (m *Metrics) auth() *authMetrics {
	v, _ := authByMetrics.LoadOrStore(m, &authMetrics{})
	a := v.(*authMetrics)
	a.once.Do(func() {
		a.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signway_auth_failures_total",
			Help: "Requests refused by caller authentication, by route and reason (missing, bad_key, unknown_key, signature, expired, clock_skew, malformed, bad_token, certificate, not_allowed, rate_limited, limiter_failed).",
		}, []string{"route", "reason"})
		a.storeFails = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signway_rate_limit_store_errors_total",
			Help: "Calls to the shared rate-limit store (Redis) that failed; each was served or refused as rate_limits.on_store_error says.",
		})
		m.reg.MustRegister(a.failures, a.storeFails)
	})
	return a
}

// AuthFailure counts a request refused by caller authentication. The
// reasons are a fixed set; route names come from the config.
func (m *Metrics) AuthFailure(route, reason string) {
	if m == nil {
		return
	}
	m.auth().failures.WithLabelValues(validUTF8(route), validUTF8(reason)).Inc()
}

// RateLimitStoreError counts a failed call to the shared rate-limit store.
func (m *Metrics) RateLimitStoreError() {
	if m == nil {
		return
	}
	m.auth().storeFails.Inc()
}
