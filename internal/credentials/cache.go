package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	// DefaultRefreshBefore is how long before expiry Cache starts refreshing
	// when CacheOptions.RefreshBefore is zero. Five minutes leaves room for
	// long uploads and presigned URLs signed just before a rotation.
	DefaultRefreshBefore = 5 * time.Minute

	// fetchTimeout bounds one upstream call. Refreshes run detached from the
	// caller that triggered them (other callers share the result), so
	// something else has to stop a hung STS or IMDS call.
	fetchTimeout = time.Minute

	// Backoff after a failed refresh: doubling from backoffMin up to
	// backoffMax, so that an outage of STS or IMDS is not met with one call
	// per proxied request, yet still-valid credentials get several more
	// attempts before they expire.
	backoffMin = time.Second
	backoffMax = 30 * time.Second

	// minRefreshInterval stops a source that hands out credentials shorter
	// lived than the margin (or the same credentials again, as IMDS does
	// close to rotation) from being called on every request.
	minRefreshInterval = 10 * time.Second
)

// CacheOptions configure a Cache. The zero value is usable.
type CacheOptions struct {
	// RefreshBefore is how long before expiry a refresh starts. Zero means
	// DefaultRefreshBefore.
	RefreshBefore time.Duration
	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time
	// Jitter returns a duration in [0, max). Refreshes start earlier by that
	// much so that many replicas do not call STS in the same second. Nil
	// means uniformly random.
	Jitter func(max time.Duration) time.Duration
	// Logger receives refreshes and failures. Nil discards.
	Logger *slog.Logger
	// SourceName names the provider in errors and logs. Empty means the
	// provider's String method, or its type.
	SourceName string
	// Metrics learns the outcome of every call to the provider. Nil means
	// none.
	Metrics CacheMetrics
}

// CacheMetrics receives what a Cache's calls to its provider gave, named by
// the cache's source; *admin.Metrics implements it.
type CacheMetrics interface {
	CredentialRefresh(source string, err error)
	// CredentialExpiry is called after each success; expires is zero for
	// credentials that do not expire.
	CredentialExpiry(source string, expires time.Time)
}

// Cache serves credentials from a Provider and refreshes them in the
// background from RefreshBefore (less jitter) before they expire, so that
// requests do not wait for STS and are not signed with credentials about to
// expire. At most one call to the Provider is in flight. If a refresh fails
// while the cached credentials are still valid, they keep being served and
// the refresh is retried with backoff. Callers block only when there are no
// valid credentials; then they share one call to the Provider, and get
// *UnavailableError if it fails.
//
// A Cache is safe for concurrent use.
type Cache struct {
	p      Provider
	source string
	before time.Duration
	clock  func() time.Time
	jitter func(time.Duration) time.Duration
	log    *slog.Logger
	mtr    CacheMetrics

	sf singleflight.Group
	bg sync.WaitGroup // background refreshes; tests wait on it

	mu         sync.Mutex
	creds      Credentials
	have       bool      // creds were obtained at least once
	refreshAt  time.Time // when to start refreshing creds
	retryAt    time.Time // no call to p before this, after a failure
	failures   int       // consecutive failed calls to p
	lastErr    error     // why the last call to p failed
	refreshing bool      // a background refresh is running
}

// NewCache returns a Cache over p. It does not call p until the first
// Retrieve.
func NewCache(p Provider, opts CacheOptions) *Cache {
	c := &Cache{
		p:      p,
		source: opts.SourceName,
		before: opts.RefreshBefore,
		clock:  opts.Clock,
		jitter: opts.Jitter,
		log:    opts.Logger,
		mtr:    opts.Metrics,
	}
	if c.source == "" {
		if s, ok := p.(fmt.Stringer); ok {
			c.source = s.String()
		} else {
			c.source = fmt.Sprintf("%T", p)
		}
	}
	if c.before <= 0 {
		c.before = DefaultRefreshBefore
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.jitter == nil {
		c.jitter = randomJitter
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With(slog.String("credentials_source", c.source))
	return c
}

func randomJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}

// String names the underlying source.
func (c *Cache) String() string { return c.source }

// Retrieve returns valid credentials, from the cache when it can. It returns
// *UnavailableError when it has none and cannot get any, including when ctx
// ends while waiting for them.
func (c *Cache) Retrieve(ctx context.Context) (Credentials, error) {
	now := c.clock()
	c.mu.Lock()
	creds := c.creds
	valid := c.have && !creds.expired(now)
	inBackoff := now.Before(c.retryAt)
	lastErr := c.lastErr
	startRefresh := valid && creds.CanExpire && !c.refreshing && !inBackoff && !now.Before(c.refreshAt)
	if startRefresh {
		c.refreshing = true
	}
	c.mu.Unlock()

	if valid {
		if startRefresh {
			c.bg.Add(1)
			go func() {
				defer c.bg.Done()
				_, _, _ = c.sf.Do("", func() (any, error) { return c.fetch(context.WithoutCancel(ctx)) })
			}()
		}
		return creds, nil
	}
	if inBackoff {
		// Fail fast: the source failed moments ago and asking it again for
		// every waiting request would only add load to it.
		return Credentials{}, &UnavailableError{Source: c.source, Err: lastErr}
	}
	// Detached from ctx: other callers may be waiting on this same call.
	ch := c.sf.DoChan("", func() (any, error) {
		// A fetch may have completed between our look at the cache and this
		// call: take its result rather than asking the source again.
		if cr, ok := c.validNow(); ok {
			return cr, nil
		}
		return c.fetch(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Credentials{}, &UnavailableError{Source: c.source, Err: r.Err}
		}
		return r.Val.(Credentials), nil
	case <-ctx.Done():
		return Credentials{}, &UnavailableError{Source: c.source, Err: ctx.Err()}
	}
}

func (c *Cache) validNow() (Credentials, bool) {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creds, c.have && !c.creds.expired(now)
}

// Ready reports whether credentials were obtained at least once and are still
// valid: what /readyz should say.
func (c *Cache) Ready() bool {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.have && !c.creds.expired(now)
}

// fetch makes the one call to the provider and records its outcome.
func (c *Cache) fetch(ctx context.Context) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	creds, err := c.p.Retrieve(ctx)
	now := c.clock()
	if err != nil {
		// Providers of this package already return a *SourceError; this
		// covers any other, whose text could quote a secret.
		err = sanitize(c.source, err)
	} else {
		err = checkFresh(creds, now)
	}
	if c.mtr != nil {
		c.mtr.CredentialRefresh(c.source, err)
		if err == nil {
			var exp time.Time
			if creds.CanExpire {
				exp = creds.Expires
			}
			c.mtr.CredentialExpiry(c.source, exp)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshing = false
	if err != nil {
		c.failures++
		delay := backoff(c.failures)
		delay += c.jitter(delay / 2)
		c.retryAt = now.Add(delay)
		c.lastErr = err
		if c.have && !c.creds.expired(now) {
			c.log.Warn("refreshing AWS credentials failed; still serving the cached ones",
				slog.String("access_key_id", c.creds.AccessKeyID),
				slog.Time("expires", c.creds.Expires),
				slog.Duration("retry_in", delay),
				slog.Int("failures", c.failures),
				slog.Any("error", err))
		} else {
			c.log.Error("AWS credentials unavailable",
				slog.Duration("retry_in", delay),
				slog.Int("failures", c.failures),
				slog.Any("error", err))
		}
		return Credentials{}, err
	}

	c.creds, c.have = creds, true
	c.failures, c.lastErr, c.retryAt = 0, nil, time.Time{}
	attrs := []any{slog.String("access_key_id", creds.AccessKeyID), slog.String("source", creds.Source)}
	if creds.CanExpire {
		c.refreshAt = c.nextRefresh(creds, now)
		attrs = append(attrs, slog.Time("expires", creds.Expires), slog.Time("refresh_at", c.refreshAt))
	}
	c.log.Info("obtained AWS credentials", attrs...)
	return creds, nil
}

// nextRefresh is when to start replacing creds obtained at now.
func (c *Cache) nextRefresh(creds Credentials, now time.Time) time.Time {
	at := creds.Expires.Add(-c.before - c.jitter(c.before/4))
	if at.Before(now) {
		// Already inside the margin: try again halfway to expiry rather
		// than on the next request.
		at = now.Add(max(creds.Expires.Sub(now)/2, minRefreshInterval))
		c.log.Warn("AWS credentials expire sooner than the refresh margin",
			slog.String("access_key_id", creds.AccessKeyID),
			slog.Time("expires", creds.Expires),
			slog.Duration("refresh_before", c.before))
	}
	return at
}

func checkFresh(creds Credentials, now time.Time) error {
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return errors.New("provider returned an empty access key ID or secret")
	}
	if creds.expired(now) {
		return fmt.Errorf("provider returned credentials %s that expired at %s",
			creds.AccessKeyID, creds.Expires.Format(time.RFC3339))
	}
	return nil
}

func backoff(failures int) time.Duration {
	d := backoffMin
	for i := 1; i < failures && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}
