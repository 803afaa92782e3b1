package inbound

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/signway/signway/internal/config"
)

// Store is a token-bucket store shared by every replica (Redis). Take
// takes one token from the bucket key, which refills at rate per second up
// to burst, and says how long to wait when it is empty.
type Store interface {
	Take(ctx context.Context, key string, rate float64, burst int, now time.Time) (ok bool, retryAfter time.Duration, err error)
}

// LimitersOptions configure the rate limiting of every caller.
type LimitersOptions struct {
	// Store, when set, holds the buckets for all replicas; nil counts in
	// this process alone.
	Store Store
	// FailClosed refuses requests (503) while the store cannot be reached;
	// otherwise they are served uncounted.
	FailClosed bool
	Logger     *slog.Logger
	// StoreError is called for each failed store call (a metric).
	StoreError func()
}

// Limiters keeps the callers' token buckets. It outlives config
// generations, so a reload that keeps a caller's limit keeps its bucket.
type Limiters struct {
	o  LimitersOptions
	mu sync.Mutex
	m  map[limitKey]*Limiter
	// lastLog rate-limits the store-failure log line.
	lastLog time.Time
}

type limitKey struct {
	id string
	rl config.RateLimit
}

// NewLimiters returns an empty pool.
func NewLimiters(o LimitersOptions) *Limiters {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Limiters{o: o, m: map[limitKey]*Limiter{}}
}

// Store is where the buckets live; nil for this process (or a nil pool).
func (ls *Limiters) Store() Store {
	if ls == nil {
		return nil
	}
	return ls.o.Store
}

func (ls *Limiters) get(id string, rl config.RateLimit) *Limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	k := limitKey{id, rl}
	if l, ok := ls.m[k]; ok {
		return l
	}
	burst := max(rl.Burst, 1)
	l := &Limiter{id: id, rate: rl.RequestsPerSecond, burst: burst, ls: ls,
		local: rate.NewLimiter(rate.Limit(rl.RequestsPerSecond), burst)}
	ls.m[k] = l
	return l
}

// Limiter is one caller's token bucket.
type Limiter struct {
	id    string
	rate  float64
	burst int
	local *rate.Limiter
	ls    *Limiters
}

// take takes one token. A failing store is logged (at most once a
// minute), counted, and then ignored or refused as configured.
func (l *Limiter) take(ctx context.Context, now time.Time) *Error {
	if st := l.ls.o.Store; st != nil {
		ok, wait, err := st.Take(ctx, "signway:ratelimit:"+l.id, l.rate, l.burst, now)
		if err == nil {
			if ok {
				return nil
			}
			return rateLimited(wait)
		}
		l.ls.storeFailed(err)
		if l.ls.o.FailClosed {
			return &Error{Status: 503, Code: "ServiceUnavailable", Reason: ReasonLimiterFailed,
				Message: "the rate-limit store cannot be reached and this gateway is set to fail closed; retry later", RetryAfter: time.Second}
		}
		return nil
	}
	r := l.local.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return rateLimited(d)
	}
	return nil
}

func rateLimited(wait time.Duration) *Error {
	if wait <= 0 || wait > time.Duration(math.MaxInt32)*time.Second {
		wait = time.Second
	}
	// SlowDown is the code AWS SDKs treat as throttling: they back off and
	// retry, as with S3's own.
	return &Error{Status: 429, Code: "SlowDown", Reason: ReasonRateLimited, RetryAfter: wait,
		Message: "this caller's rate limit is exceeded; retry after the time in Retry-After"}
}

func (ls *Limiters) storeFailed(err error) {
	if ls.o.StoreError != nil {
		ls.o.StoreError()
	}
	ls.mu.Lock()
	now := time.Now()
	logIt := now.Sub(ls.lastLog) >= time.Minute
	if logIt {
		ls.lastLog = now
	}
	ls.mu.Unlock()
	if logIt {
		mode := "open: requests are served without counting"
		if ls.o.FailClosed {
			mode = "closed: requests are refused with 503"
		}
		ls.o.Logger.Error("rate-limit store unreachable; failing "+mode, "error", err)
	}
}
