package admin

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPipelineMetrics(t *testing.T) {
	m := NewMetrics("x")
	m.ObserveUpstream("s3", 200, 3*time.Millisecond)
	m.ObserveUpstream("s3", 200, 40*time.Millisecond)
	m.ObserveUpstream("s3", 503, time.Second)
	m.ObserveUpstream("s3", 1000, time.Millisecond)
	m.ObserveSigning("s3", 20*time.Microsecond)
	m.ObserveSigning("s3", 2*time.Second)
	m.AddBodyBytes("s3", 1024, 10)
	m.AddBodyBytes("s3", 0, 5)
	m.AddBodyBytes("es", -1, 0) // nothing read: no negative counts

	got := scrape(t, m.Handler())
	want := map[string]string{
		`signway_upstream_duration_seconds_count{route="s3"}`:              "4",
		`signway_upstream_duration_seconds_bucket{route="s3",le="0.005"}`:  "2",
		`signway_upstream_duration_seconds_bucket{route="s3",le="0.05"}`:   "3",
		`signway_upstream_responses_total{code="200",route="s3"}`:          "2",
		`signway_upstream_responses_total{code="503",route="s3"}`:          "1",
		`signway_upstream_responses_total{code="other",route="s3"}`:        "1",
		`signway_signing_duration_seconds_count{route="s3"}`:               "2",
		`signway_signing_duration_seconds_bucket{route="s3",le="2.5e-05"}`: "1",
		`signway_signing_duration_seconds_bucket{route="s3",le="1"}`:       "1",
		`signway_request_body_bytes_total{route="s3"}`:                     "1024",
		`signway_response_body_bytes_total{route="s3"}`:                    "15",
		`signway_request_body_bytes_total{route="es"}`:                     "0",
	}
	for series, v := range want {
		if got[series] != v {
			t.Errorf("%s = %q, want %q", series, got[series], v)
		}
	}
}

func TestCredentialMetrics(t *testing.T) {
	m := NewMetrics("x")
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m.credentials.expiry.now = func() time.Time { return now }

	role := "assume role arn:aws:iam::123456789012:role/reader"
	m.CredentialRefresh(role, nil)
	m.CredentialRefresh(role, errors.New("AccessDenied"))
	m.CredentialRefresh(role, errors.New("AccessDenied"))
	m.CredentialExpiry(role, now.Add(15*time.Minute))
	m.CredentialExpiry("imds", now.Add(-30*time.Second))
	m.CredentialExpiry("static keys AKIA", time.Time{}) // never expires: no series
	m.CredentialRefresh(strings.Repeat("long ", 100), nil)
	m.ObserveSTSCall("AssumeRole", 80*time.Millisecond, nil)
	m.ObserveSTSCall("AssumeRoleWithWebIdentity", 2*time.Second, errors.New("throttled"))
	m.ObserveSTSCall("DecodeAuthorizationMessage", time.Millisecond, nil)

	got := scrape(t, m.Handler())
	want := map[string]string{
		`signway_credential_refreshes_total{result="success",source="` + role + `"}`:                         "1",
		`signway_credential_refreshes_total{result="failure",source="` + role + `"}`:                         "2",
		`signway_credentials_expiry_seconds{source="` + role + `"}`:                                          "900",
		`signway_credentials_expiry_seconds{source="imds"}`:                                                  "-30",
		`signway_sts_request_duration_seconds_count{operation="AssumeRole",result="success"}`:                "1",
		`signway_sts_request_duration_seconds_bucket{operation="AssumeRole",result="success",le="0.05"}`:     "0",
		`signway_sts_request_duration_seconds_bucket{operation="AssumeRole",result="success",le="0.1"}`:      "1",
		`signway_sts_request_duration_seconds_count{operation="AssumeRoleWithWebIdentity",result="failure"}`: "1",
		`signway_sts_request_duration_seconds_count{operation="other",result="success"}`:                     "1",
		`signway_credential_refreshes_total{result="success",source="` + strings.Repeat("long ", 32) + `"}`:  "1",
	}
	for series, v := range want {
		if got[series] != v {
			t.Errorf("%s = %q, want %q", series, got[series], v)
		}
	}
	for series := range got {
		if strings.Contains(series, "static keys") {
			t.Errorf("credentials that never expire exported %s", series)
		}
	}

	// A dropped cache leaves no series behind to alert on.
	m.ForgetCredentials(role)
	for series := range scrape(t, m.Handler()) {
		if strings.Contains(series, "reader") {
			t.Errorf("%s still exported after ForgetCredentials", series)
		}
	}
}

func TestNilMetricsOpsIsNoop(t *testing.T) {
	var m *Metrics
	m.ObserveUpstream("r", 200, time.Millisecond)
	m.ObserveSigning("r", time.Millisecond)
	m.AddBodyBytes("r", 1, 1)
	m.CredentialRefresh("s", nil)
	m.CredentialExpiry("s", time.Now())
	m.ForgetCredentials("s")
	m.ObserveSTSCall("AssumeRole", time.Millisecond, nil)
}

func TestPerRequestMetricsDoNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under -race or -cover")
	}
	m := NewMetrics("x")
	record := func() {
		m.ObserveRequest("s3", "GET", 200, time.Millisecond)
		m.ObserveUpstream("s3", 200, time.Millisecond)
		m.ObserveSigning("s3", time.Microsecond)
		m.AddBodyBytes("s3", 10, 10)
	}
	record() // creates the children
	if n := testing.AllocsPerRun(1000, record); n != 0 {
		t.Errorf("per-request recording allocates %v times, want 0", n)
	}
}
