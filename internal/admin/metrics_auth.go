package admin

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// authMetrics are caller authentication's series, registered on first use
// so that this file stays apart from the core set.
type authMetrics struct {
	once       sync.Once
	failures   *prometheus.CounterVec // route, reason
	requests   *prometheus.CounterVec // route, caller, code
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
		a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signway_caller_requests_total",
			Help: "Requests by authenticated callers, by route, caller id (callers declared in the config or named in an allow list; other JWT callers are \"other\") and response status code.",
		}, []string{"route", "caller", "code"})
		a.storeFails = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signway_rate_limit_store_errors_total",
			Help: "Calls to the shared rate-limit store (Redis) that failed; each was served or refused as rate_limits.on_store_error says.",
		})
		m.reg.MustRegister(a.failures, a.requests, a.storeFails)
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

// CallerRequest counts a request an authenticated caller made, by route,
// caller and status code. The caller label is bounded by its source: the
// ids the config names (other JWT subjects are passed as "other").
func (m *Metrics) CallerRequest(route, caller string, status int) {
	if m == nil {
		return
	}
	code := "other"
	if status >= 100 && status <= 599 {
		code = strconv.Itoa(status)
	}
	m.auth().requests.WithLabelValues(validUTF8(route), validUTF8(caller), code).Inc()
}

// RateLimitStoreError counts a failed call to the shared rate-limit store.
func (m *Metrics) RateLimitStoreError() {
	if m == nil {
		return
	}
	m.auth().storeFails.Inc()
}
