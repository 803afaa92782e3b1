package admin

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// STS operations named in signway_sts_request_duration_seconds; any other
// operation is recorded as "other".
var stsOperations = map[string]bool{
	"AssumeRole": true, "AssumeRoleWithWebIdentity": true, "AssumeRoleWithSAML": true,
	"GetCallerIdentity": true, "GetSessionToken": true, "GetWebIdentityToken": true,
}

// stsDurationBuckets span 10 ms (STS in the same region) to 30 s (the SDK's
// own timeouts).
var stsDurationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// maxSourceLabel bounds a credential source's name in a label. Names come
// from the configuration ("assume role arn:aws:iam::...:role/...") and are
// bounded in number by it; this bounds their size.
const maxSourceLabel = 160

// credentialsMetrics are the credential caches' and STS's series.
type credentialsMetrics struct {
	refreshes   *prometheus.CounterVec   // source, result
	stsDuration *prometheus.HistogramVec // operation, result
	expiry      *expiryCollector
}

func (c *credentialsMetrics) register(reg *prometheus.Registry) {
	c.refreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signway_credential_refreshes_total",
		Help: "Calls a credentials cache made to its source (first fetch and every refresh), by source and result (success, failure).",
	}, []string{"source", "result"})
	c.stsDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "signway_sts_request_duration_seconds",
		Help:    "Latency of each HTTP call to AWS STS (each SDK attempt), by operation and result (success, failure).",
		Buckets: stsDurationBuckets,
	}, []string{"operation", "result"})
	c.expiry = &expiryCollector{
		desc: prometheus.NewDesc("signway_credentials_expiry_seconds",
			"Seconds until the credentials a cache currently holds expire (negative once expired), by source. Absent for credentials that do not expire.",
			[]string{"source"}, nil),
		now:     time.Now,
		expires: make(map[string]time.Time),
	}
	reg.MustRegister(c.refreshes, c.stsDuration, c.expiry)
}

// expiryCollector computes seconds-until-expiry at scrape time, so the
// value is current however long ago the credentials were fetched.
type expiryCollector struct {
	desc    *prometheus.Desc
	now     func() time.Time
	mu      sync.Mutex
	expires map[string]time.Time // source -> expiry
}

func (e *expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- e.desc }

func (e *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for source, at := range e.expires {
		ch <- prometheus.MustNewConstMetric(e.desc, prometheus.GaugeValue, at.Sub(now).Seconds(), source)
	}
}

func sourceLabel(source string) string {
	if len(source) > maxSourceLabel {
		source = source[:maxSourceLabel]
	}
	return validUTF8(source)
}

func resultLabel(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

// CredentialRefresh counts one call a credentials cache made to its source
// (the first fetch or a refresh): signway_credential_refreshes_total
// {source,result}. source is the cache's name (credentials.Cache.String).
func (m *Metrics) CredentialRefresh(source string, err error) {
	if m == nil {
		return
	}
	m.credentials.refreshes.WithLabelValues(sourceLabel(source), resultLabel(err)).Inc()
}

// CredentialExpiry records when the credentials a cache now holds expire,
// for signway_credentials_expiry_seconds{source}. A zero expires (the
// credentials do not expire) removes the series.
func (m *Metrics) CredentialExpiry(source string, expires time.Time) {
	if m == nil {
		return
	}
	e := m.credentials.expiry
	source = sourceLabel(source)
	e.mu.Lock()
	defer e.mu.Unlock()
	if expires.IsZero() {
		delete(e.expires, source)
		return
	}
	e.expires[source] = expires
}

// ForgetCredentials removes a source's series when its cache is dropped
// (after a reload no route uses it), so that the expiry of credentials no
// one holds any more does not fire an alert.
func (m *Metrics) ForgetCredentials(source string) {
	if m == nil {
		return
	}
	m.CredentialExpiry(source, time.Time{})
	label := sourceLabel(source)
	m.credentials.refreshes.DeleteLabelValues(label, "success")
	m.credentials.refreshes.DeleteLabelValues(label, "failure")
}

// ObserveSTSCall records one HTTP call to STS that took d:
// signway_sts_request_duration_seconds{operation,result}. operation is the
// STS API name ("AssumeRole", "AssumeRoleWithWebIdentity", ...); others are
// recorded as "other". err is non-nil when the call failed, including an
// error status from STS.
func (m *Metrics) ObserveSTSCall(operation string, d time.Duration, err error) {
	if m == nil {
		return
	}
	if !stsOperations[operation] {
		operation = "other"
	}
	m.credentials.stsDuration.WithLabelValues(operation, resultLabel(err)).Observe(d.Seconds())
}
