package credentials

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustRetrieve(t *testing.T, c *Cache) Credentials {
	t.Helper()
	got, err := c.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	return got
}

func TestCacheRefreshesBeforeExpiry(t *testing.T) {
	tests := []struct {
		name          string
		refreshBefore time.Duration
		jitterFrac    float64
		wantMargin    time.Duration // how long before expiry the refresh starts
	}{
		{"default margin, no jitter", 0, 0, 5 * time.Minute},
		{"default margin, half jitter", 0, 0.5, 5*time.Minute + 5*time.Minute/8},
		{"ten minute margin", 10 * time.Minute, 0, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			p := &fakeProvider{clock: clock, lifetime: time.Hour}
			c := NewCache(p, CacheOptions{RefreshBefore: tt.refreshBefore, Clock: clock.Now, Jitter: fixedJitter(tt.jitterFrac)})

			first := mustRetrieve(t, c)
			if !c.Ready() {
				t.Fatal("Ready() = false after a successful Retrieve")
			}
			clock.Advance(time.Hour - tt.wantMargin - time.Second)
			if got := mustRetrieve(t, c); got.AccessKeyID != first.AccessKeyID || p.Calls() != 1 {
				t.Fatalf("1s before the margin: got %s after %d calls, want cached %s after 1", got.AccessKeyID, p.Calls(), first.AccessKeyID)
			}
			clock.Advance(time.Second)
			// The call that crosses the margin is served the still-valid
			// credentials while the refresh runs in the background.
			if got := mustRetrieve(t, c); got.AccessKeyID != first.AccessKeyID {
				t.Fatalf("at the margin: got %s, want the cached %s", got.AccessKeyID, first.AccessKeyID)
			}
			c.wait()
			if p.Calls() != 2 {
				t.Fatalf("provider calls = %d, want 2 (one refresh at the margin)", p.Calls())
			}
			second := mustRetrieve(t, c)
			if second.AccessKeyID == first.AccessKeyID {
				t.Fatalf("after refresh still serving %s", first.AccessKeyID)
			}
			if want := clock.Now().Add(time.Hour); !second.Expires.Equal(want) {
				t.Fatalf("refreshed Expires = %s, want %s", second.Expires, want)
			}
		})
	}

	t.Run("credentials that never expire are never refreshed", func(t *testing.T) {
		clock := newFakeClock()
		p := &fakeProvider{clock: clock}
		c := NewCache(p, CacheOptions{Clock: clock.Now})
		for range 5 {
			mustRetrieve(t, c)
			clock.Advance(1000 * time.Hour)
		}
		c.wait()
		if p.Calls() != 1 {
			t.Fatalf("provider calls = %d, want 1", p.Calls())
		}
	})

	t.Run("credentials shorter lived than the margin are not refreshed on every request", func(t *testing.T) {
		clock := newFakeClock()
		p := &fakeProvider{clock: clock, lifetime: 2 * time.Minute}
		c := NewCache(p, CacheOptions{Clock: clock.Now, Jitter: fixedJitter(0)})
		for range 50 {
			mustRetrieve(t, c)
		}
		c.wait()
		if p.Calls() != 1 {
			t.Fatalf("provider calls = %d, want 1", p.Calls())
		}
		clock.Advance(time.Minute) // halfway to expiry
		mustRetrieve(t, c)
		c.wait()
		if p.Calls() != 2 {
			t.Fatalf("provider calls = %d, want 2", p.Calls())
		}
	})
}

func TestCacheConcurrentRetrieve(t *testing.T) {
	const callers = 64
	tests := []struct {
		name string
		warm bool // credentials already cached when the callers arrive
	}{
		{"first fetch, callers wait for it", false},
		{"refresh, callers are served the cached credentials", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			p := &fakeProvider{clock: clock, lifetime: time.Hour}
			c := NewCache(p, CacheOptions{Clock: clock.Now, Jitter: fixedJitter(0)})
			var warm Credentials
			if tt.warm {
				warm = mustRetrieve(t, c)
				clock.Advance(58 * time.Minute) // inside the margin, still valid
			}
			gate, entered := make(chan struct{}), make(chan struct{}, callers)
			p.set(func(f *fakeProvider) { f.gate, f.entered = gate, entered })

			var wg sync.WaitGroup
			errs := make(chan error, callers)
			for range callers {
				wg.Go(func() {
					got, err := c.Retrieve(context.Background())
					switch {
					case err != nil:
						errs <- err
					case tt.warm && got.AccessKeyID != warm.AccessKeyID:
						errs <- fmt.Errorf("got %s during the refresh, want the cached %s", got.AccessKeyID, warm.AccessKeyID)
					}
				})
			}
			<-entered // the one upstream call is in flight
			if tt.warm {
				wg.Wait() // nobody waits for a refresh while cached credentials are valid
			}
			close(gate)
			wg.Wait()
			c.wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			want := 1
			if tt.warm {
				want = 2
			}
			if p.Calls() != want {
				t.Fatalf("provider calls = %d, want %d", p.Calls(), want)
			}
		})
	}
}

func TestCacheServesCachedCredentialsWhileRefreshFails(t *testing.T) {
	var logs bytes.Buffer
	clock := newFakeClock()
	p := &fakeProvider{clock: clock, lifetime: time.Hour}
	c := NewCache(p, CacheOptions{
		Clock:  clock.Now,
		Jitter: fixedJitter(0),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	first := mustRetrieve(t, c)
	clock.Advance(55 * time.Minute)                // at the margin
	boom := &SourceError{Reason: "sts: throttled"} // what this package's providers return
	p.set(func(f *fakeProvider) { f.fail = boom })

	// Each step: advance the clock, Retrieve, and see whether the provider
	// was called. Backoff is 1s, 2s, 4s, ... after consecutive failures.
	steps := []struct {
		name      string
		advance   time.Duration
		recover   bool
		wantCalls int
		wantNew   bool
	}{
		{"margin reached: refresh fails", 0, false, 2, false},
		{"right after: backing off", 0, false, 2, false},
		{"0.5s later: still backing off", 500 * time.Millisecond, false, 2, false},
		{"1s after the failure: retry, fails", 500 * time.Millisecond, false, 3, false},
		{"1s later: backing off 2s", time.Second, false, 3, false},
		{"2s after: retry, fails", time.Second, false, 4, false},
		{"2s later: backing off 4s", 2 * time.Second, false, 4, false},
		{"4s after: source is back", 2 * time.Second, true, 5, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clock.Advance(s.advance)
			if s.recover {
				p.set(func(f *fakeProvider) { f.fail = nil })
			}
			got := mustRetrieve(t, c)
			if got.AccessKeyID != first.AccessKeyID {
				t.Fatalf("got %s, want the cached %s while refreshing", got.AccessKeyID, first.AccessKeyID)
			}
			c.wait()
			if p.Calls() != s.wantCalls {
				t.Fatalf("provider calls = %d, want %d", p.Calls(), s.wantCalls)
			}
			if renewed := mustRetrieve(t, c).AccessKeyID != first.AccessKeyID; renewed != s.wantNew {
				t.Fatalf("renewed = %v, want %v", renewed, s.wantNew)
			}
		})
	}

	out := logs.String()
	for _, secret := range []string{fakeSecret, fakeToken} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains a secret:\n%s", out)
		}
	}
	for _, want := range []string{"refreshing AWS credentials failed", first.AccessKeyID, "sts: throttled"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

type namedFailing struct{ err error }

func (n namedFailing) Retrieve(context.Context) (Credentials, error) { return Credentials{}, n.err }
func (n namedFailing) String() string                                { return "named-failing" }

func TestCacheUnavailable(t *testing.T) {
	boom := &SourceError{Reason: "no route to IMDS"}
	tests := []struct {
		name       string
		sourceName string
		run        func(t *testing.T, c *Cache, p *fakeProvider, clock *fakeClock) error
		wantCause  error
		wantCalls  int
	}{
		{
			name: "provider fails on the first fetch",
			run: func(t *testing.T, c *Cache, p *fakeProvider, _ *fakeClock) error {
				p.set(func(f *fakeProvider) { f.fail = boom })
				_, err := c.Retrieve(context.Background())
				return err
			},
			wantCause: boom, wantCalls: 1,
		},
		{
			name: "failing again within backoff does not call the provider",
			run: func(t *testing.T, c *Cache, p *fakeProvider, _ *fakeClock) error {
				p.set(func(f *fakeProvider) { f.fail = boom })
				_, _ = c.Retrieve(context.Background())
				_, err := c.Retrieve(context.Background())
				return err
			},
			wantCause: boom, wantCalls: 1,
		},
		{
			name: "cached credentials expired and the refresh fails",
			run: func(t *testing.T, c *Cache, p *fakeProvider, clock *fakeClock) error {
				mustRetrieve(t, c)
				p.set(func(f *fakeProvider) { f.fail = boom })
				clock.Advance(time.Hour)
				_, err := c.Retrieve(context.Background())
				return err
			},
			wantCause: boom, wantCalls: 2,
		},
		{
			name: "provider returns credentials that already expired",
			run: func(t *testing.T, c *Cache, p *fakeProvider, _ *fakeClock) error {
				p.set(func(f *fakeProvider) { f.lifetime = -time.Second })
				_, err := c.Retrieve(context.Background())
				return err
			},
			wantCalls: 1,
		},
		{
			name: "caller's context ends while waiting",
			run: func(t *testing.T, c *Cache, p *fakeProvider, _ *fakeClock) error {
				entered := make(chan struct{}, 1)
				gate := make(chan struct{})
				t.Cleanup(func() { close(gate) }) // let the detached fetch finish
				p.set(func(f *fakeProvider) { f.gate, f.entered = gate, entered })
				ctx, cancel := context.WithCancel(context.Background())
				go func() { <-entered; cancel() }()
				_, err := c.Retrieve(ctx)
				return err
			},
			wantCause: context.Canceled, wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			p := &fakeProvider{clock: clock, lifetime: time.Hour}
			c := NewCache(p, CacheOptions{Clock: clock.Now, SourceName: "test-source", Jitter: fixedJitter(0)})
			err := tt.run(t, c, p, clock)
			var ue *UnavailableError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v (%T), want *UnavailableError", err, err)
			}
			if ue.Source != "test-source" || !strings.Contains(err.Error(), "test-source") {
				t.Errorf("error %q does not name the source test-source", err)
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantCause)
			}
			if strings.Contains(err.Error(), fakeSecret) || strings.Contains(err.Error(), fakeToken) {
				t.Errorf("error leaks a secret: %v", err)
			}
			if c.Ready() {
				t.Error("Ready() = true without valid credentials")
			}
			if p.Calls() != tt.wantCalls {
				t.Errorf("provider calls = %d, want %d", p.Calls(), tt.wantCalls)
			}
		})
	}

	t.Run("source name defaults to the provider's String", func(t *testing.T) {
		_, err := NewCache(namedFailing{boom}, CacheOptions{}).Retrieve(context.Background())
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.Source != "named-failing" {
			t.Fatalf("err = %v, want *UnavailableError from named-failing", err)
		}
	})
}

// TestCacheContinuousLoad runs concurrent callers through three rotations:
// no call may fail and no credentials handed out may be inside the refresh
// margin.
func TestCacheContinuousLoad(t *testing.T) {
	const (
		lifetime = 15 * time.Minute
		margin   = 5 * time.Minute
		tick     = 5 * time.Second
		workers  = 8
	)
	clock := newFakeClock()
	p := &fakeProvider{clock: clock, lifetime: lifetime}
	// A fixed jitter larger than a tick: the refresh starts early enough that
	// what is served while it runs still has more than the margin left.
	c := NewCache(p, CacheOptions{RefreshBefore: margin, Clock: clock.Now, Jitter: fixedJitter(0.5)})

	seen := map[string]bool{}
	var mu sync.Mutex
	for elapsed := time.Duration(0); elapsed < 3*lifetime; elapsed += tick {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range 4 {
					now := clock.Now()
					got, err := c.Retrieve(context.Background())
					if err != nil {
						t.Errorf("at +%s: %v", elapsed, err)
						return
					}
					if left := got.Expires.Sub(now); left <= margin {
						t.Errorf("at +%s: served %s with %s left, inside the %s margin", elapsed, got.AccessKeyID, left, margin)
					}
					mu.Lock()
					seen[got.AccessKeyID] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		c.wait() // a refresh takes less than a tick
		clock.Advance(tick)
		if t.Failed() {
			t.FailNow()
		}
	}
	if len(seen) < 4 {
		t.Errorf("served %d distinct credentials, want at least 4 (three rotations)", len(seen))
	}
	if p.Calls() != len(seen) {
		t.Errorf("provider calls = %d for %d distinct credentials: refreshes overlapped or failed", p.Calls(), len(seen))
	}
}
