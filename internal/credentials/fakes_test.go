package credentials

import (
	"context"
	"fmt"
	"sync"
	"time"

	sdkcreds "github.com/aws/aws-sdk-go-v2/credentials"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const fakeSecret, fakeToken = "fake-secret-do-not-log", "fake-session-token-do-not-log"

// fakeProvider hands out numbered credentials valid for lifetime from the
// fake clock's now, and counts its calls.
type fakeProvider struct {
	clock    *fakeClock
	lifetime time.Duration // zero: credentials never expire

	mu      sync.Mutex
	calls   int
	fail    error
	gate    chan struct{} // when set, each call waits for it to be closed
	entered chan struct{} // when set, receives once per call, before the gate
}

func (f *fakeProvider) Retrieve(ctx context.Context) (Credentials, error) {
	f.mu.Lock()
	f.calls++
	n, fail, gate, entered := f.calls, f.fail, f.gate, f.entered
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return Credentials{}, ctx.Err()
		}
	}
	if fail != nil {
		return Credentials{}, fail
	}
	c := Credentials{
		AccessKeyID:     fmt.Sprintf("ASIAFAKE%08d", n),
		SecretAccessKey: fakeSecret,
		SessionToken:    fakeToken,
		Source:          "FakeProvider",
	}
	if f.lifetime != 0 {
		c.CanExpire, c.Expires = true, f.clock.Now().Add(f.lifetime)
	}
	return c, nil
}

func (f *fakeProvider) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeProvider) set(fn func(f *fakeProvider)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func fixedJitter(frac float64) func(time.Duration) time.Duration {
	return func(max time.Duration) time.Duration { return time.Duration(float64(max) * frac) }
}

// Static returns a Provider of fixed credentials.
func Static(accessKeyID, secret, sessionToken string) Provider {
	return &sdkProvider{
		p:    sdkcreds.NewStaticCredentialsProvider(accessKeyID, secret, sessionToken),
		name: "static credentials",
	}
}

// wait blocks until background refreshes started so far have finished.
func (c *Cache) wait() { c.bg.Wait() }

// wait blocks until background refreshes started so far have finished.
func (w *CallerWebIdentity) wait() { w.bg.Wait() }

// cached is the number of callers whose credentials are cached.
func (w *CallerWebIdentity) cached() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.entries.ll.Len()
}
