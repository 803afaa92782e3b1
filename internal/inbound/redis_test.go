package inbound

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/testenv"
)

// replica is one signway's view of the callers: its own Limiters over the
// shared store, as two processes have.
func replica(t *testing.T, st Store, failClosed bool, storeErrors *atomic.Int32) *Authenticator {
	t.Helper()
	lim := NewLimiters(LimitersOptions{Store: st, FailClosed: failClosed, StoreError: func() { storeErrors.Add(1) }})
	c, err := NewCallers(CallersOptions{Limiters: lim, Callers: []config.Caller{
		{ID: "reporting", APIKeys: []config.APIKey{{Key: config.NewSecret(keyRep)}}, RateLimit: config.RateLimit{RequestsPerSecond: 0.2, Burst: 3}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Route: "data", Auth: config.Auth{Methods: []config.AuthMethod{config.AuthAPIKey}, APIKeyHeader: "api-key"}, Callers: c})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func keyed() *http.Request {
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("api-key", keyRep)
	return r
}

// TestRedisSharedBucket: two replicas draw from one bucket per caller; with
// Redis gone they fail open or closed as configured and count the failure.
func TestRedisSharedBucket(t *testing.T) {
	rd := testenv.StartRedis(t)
	st, err := NewRedisStore(rd.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var storeErrors atomic.Int32
	a, b := replica(t, st, false, &storeErrors), replica(t, st, false, &storeErrors)
	admitted := 0
	var last *Error
	for i := range 6 {
		au := a
		if i%2 == 1 {
			au = b
		}
		if _, err := au.Authenticate(keyed()); err == nil {
			admitted++
		} else {
			last = err
		}
	}
	if admitted != 3 {
		t.Errorf("%d of 6 requests across two replicas admitted, want the burst of 3", admitted)
	}
	if last == nil || last.Status != 429 || last.RetryAfter < 3*time.Second || last.RetryAfter > 5*time.Second {
		t.Errorf("refusal: %+v, want 429 with Retry-After about 5s", last)
	}
	if storeErrors.Load() != 0 {
		t.Errorf("%d store errors with Redis up", storeErrors.Load())
	}

	rd.Stop()
	closed := replica(t, st, true, &storeErrors)
	start := time.Now()
	if _, err := a.Authenticate(keyed()); err != nil {
		t.Errorf("fail open with Redis down: %v", err)
	}
	if _, err := closed.Authenticate(keyed()); err == nil || err.Status != 503 || err.Reason != ReasonLimiterFailed {
		t.Errorf("fail closed with Redis down: %+v", err)
	}
	if n := storeErrors.Load(); n != 2 {
		t.Errorf("%d store errors counted, want 2", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("two requests with Redis down took %v: the store call is not bounded", d)
	}
}

func TestNewRedisStoreBadURL(t *testing.T) {
	if _, err := NewRedisStore("http://x"); err == nil {
		t.Error("an http URL was accepted")
	}
	st, _ := NewRedisStore("redis://127.0.0.1:1")
	defer st.Close()
	if _, _, err := st.Take(context.Background(), "k", 1, 1, time.Time{}); err == nil {
		t.Error("a store nobody listens on answered")
	}
}
