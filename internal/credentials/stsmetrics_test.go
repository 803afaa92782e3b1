package credentials

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

type recordedMetrics struct {
	mu        sync.Mutex
	sts       []string // operation/result
	refreshes []string // source/result
	expiry    map[string]time.Time
}

func result(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

func (r *recordedMetrics) ObserveSTSCall(op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d <= 0 {
		op += " (no duration)"
	}
	r.sts = append(r.sts, op+"/"+result(err))
}

func (r *recordedMetrics) CredentialRefresh(source string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshes = append(r.refreshes, source+"/"+result(err))
}

func (r *recordedMetrics) CredentialExpiry(source string, exp time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.expiry == nil {
		r.expiry = make(map[string]time.Time)
	}
	r.expiry[source] = exp
}

func TestMetricsFromMotoSTS(t *testing.T) {
	moto := startMoto(t)
	isolateEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := &recordedMetrics{}
	p, err := AssumeRole(Static(baseKeyID, baseSecret, ""), AssumeRoleOptions{RoleARN: roleARN, Endpoint: moto,
		Region: "us-east-1", Duration: 20 * time.Minute, STSMetrics: rec})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(p, CacheOptions{Metrics: rec})
	got, err := c.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	source := "assume role " + roleARN
	if len(rec.sts) != 1 || rec.sts[0] != "AssumeRole/success" {
		t.Errorf("STS calls recorded %q, want [AssumeRole/success]", rec.sts)
	}
	if len(rec.refreshes) != 1 || rec.refreshes[0] != source+"/success" {
		t.Errorf("refreshes recorded %q, want [%s/success]", rec.refreshes, source)
	}
	if exp := rec.expiry[source]; !exp.Equal(got.Expires) || time.Until(exp) < 19*time.Minute {
		t.Errorf("expiry recorded %s, want the credentials' %s (20 minutes)", exp, got.Expires)
	}

	// Static keys do not expire: a zero expiry, which removes the gauge.
	s := NewCache(Static(baseKeyID, baseSecret, ""), CacheOptions{Metrics: rec, SourceName: "static"})
	if _, err := s.Retrieve(ctx); err != nil {
		t.Fatal(err)
	}
	if exp, ok := rec.expiry["static"]; !ok || !exp.IsZero() {
		t.Errorf("static keys' expiry recorded %s (recorded: %v), want zero", exp, ok)
	}
}

func TestMetricsWhenSTSRefuses(t *testing.T) {
	isolateEnv(t)
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>`))
	}))
	defer sts.Close()
	rec := &recordedMetrics{}
	p, err := AssumeRole(Static(baseKeyID, baseSecret, ""), AssumeRoleOptions{RoleARN: roleARN, Endpoint: sts.URL,
		Region: "us-east-1", STSMetrics: rec})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(p, CacheOptions{Metrics: rec, SourceName: "role"})
	if _, err := c.Retrieve(context.Background()); err == nil {
		t.Fatal("Retrieve succeeded against an STS that refuses")
	}
	if len(rec.sts) != 1 || rec.sts[0] != "AssumeRole/failure" {
		t.Errorf("STS calls recorded %q, want one AssumeRole/failure (AccessDenied is not retried)", rec.sts)
	}
	if len(rec.refreshes) != 1 || rec.refreshes[0] != "role/failure" {
		t.Errorf("refreshes recorded %q, want [role/failure]", rec.refreshes)
	}
	if _, ok := rec.expiry["role"]; ok {
		t.Error("a failed refresh recorded an expiry")
	}
}
