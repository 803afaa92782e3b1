package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSTS answers AssumeRoleWithWebIdentity with numbered credentials valid
// for an hour of the fake clock, or with the error status and code it is
// set to; gate, when set, holds every call until it is closed. It records
// how many calls were in flight at most.
type fakeSTS struct {
	clock *fakeClock
	srv   *httptest.Server

	mu          sync.Mutex
	calls       int
	inFlight    int
	maxInFlight int
	status      int    // non-zero: answer this error
	code        string // with this code
	gate        chan struct{}
	entered     chan struct{} // when set, receives once per call
}

func newFakeSTS(t *testing.T, clock *fakeClock) *fakeSTS {
	f := &fakeSTS{clock: clock}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	n, status, code, gate, entered := f.calls, f.status, f.code, f.gate, f.entered
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "text/xml")
	if status != 0 {
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>refused</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code)
		return
	}
	fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult><Credentials>
    <AccessKeyId>ASIAFAKESTS%08d</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>
    <SessionToken>%s</SessionToken><Expiration>%s</Expiration>
  </Credentials></AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`, n, fakeSecret, fakeToken, f.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339))
}

func (f *fakeSTS) set(fn func(f *fakeSTS)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeSTS) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func newCallerWI(t *testing.T, f *fakeSTS, opts CallerWebIdentityOptions) *CallerWebIdentity {
	t.Helper()
	isolateEnv(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1") // count each STS call once
	opts.RoleARN, opts.STSEndpoint, opts.Clock, opts.Jitter = roleARN, f.srv.URL, f.clock.Now, fixedJitter(0)
	w, err := NewCallerWebIdentity(opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestCallerWebIdentityRefreshesInTheBackground: requests never wait for a
// refresh they do not need. With STS held, a request inside the refresh
// margin is answered at once with the cached credentials; the next request
// after the refresh gets the new ones.
func TestCallerWebIdentityRefreshesInTheBackground(t *testing.T) {
	clock := newFakeClock()
	f := newFakeSTS(t, clock)
	w := newCallerWI(t, f, CallerWebIdentityOptions{})
	tok := fakeJWT(t, clock.Now().Add(3*time.Hour), "alice")
	ctx := context.Background()

	first, err := w.Retrieve(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	f.set(func(f *fakeSTS) { f.gate, f.entered = gate, entered })

	clock.Advance(time.Hour - DefaultRefreshBefore) // the refresh margin begins
	for i := range 5 {
		done := make(chan Credentials)
		go func() {
			c, err := w.Retrieve(ctx, tok)
			if err != nil {
				t.Error(err)
			}
			done <- c
		}()
		select {
		case got := <-done:
			if got != first {
				t.Errorf("request %d: got %s, want the cached %s", i, got.AccessKeyID, first.AccessKeyID)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("request %d waited for the background refresh", i)
		}
	}
	<-entered // the one refresh reached STS
	close(gate)
	w.wait()
	got, err := w.Retrieve(ctx, tok)
	if err != nil || got.AccessKeyID == first.AccessKeyID {
		t.Fatalf("after the refresh: %v, %v; want new credentials", got, err)
	}
	if n := f.Calls(); n != 2 {
		t.Errorf("STS calls = %d, want 2 (one refresh for five requests)", n)
	}
}

// TestCallerWebIdentityRefreshFailure: while STS fails, the cached
// credentials are served until half the margin is left, with at most one
// refresh attempt per minRefreshInterval; after that, requests wait for STS
// and get its error.
func TestCallerWebIdentityRefreshFailure(t *testing.T) {
	clock := newFakeClock()
	f := newFakeSTS(t, clock)
	w := newCallerWI(t, f, CallerWebIdentityOptions{})
	tok := fakeJWT(t, clock.Now().Add(3*time.Hour), "bob")
	ctx := context.Background()
	first, err := w.Retrieve(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeSTS) { f.status, f.code = http.StatusServiceUnavailable, "ServiceUnavailable" })

	clock.Advance(time.Hour - DefaultRefreshBefore)
	for range 3 {
		if got, err := w.Retrieve(ctx, tok); err != nil || got != first {
			t.Fatalf("while STS fails: %v, %v; want the cached credentials", got, err)
		}
		w.wait()
	}
	if n := f.Calls(); n != 2 {
		t.Errorf("STS calls = %d, want 2: one refresh, then none before the retry interval", n)
	}
	clock.Advance(minRefreshInterval)
	if _, err := w.Retrieve(ctx, tok); err != nil {
		t.Fatal(err)
	}
	w.wait()
	if n := f.Calls(); n != 3 {
		t.Errorf("STS calls = %d, want 3: a retry after the interval", n)
	}

	clock.Advance(DefaultRefreshBefore / 2) // half the margin left: no longer usable
	_, err = w.Retrieve(ctx, tok)
	var se *STSError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable || IsCallerError(err) {
		t.Fatalf("err = %v, want STS's 503", err)
	}
}

// TestCallerWebIdentityNegativeCache: a token STS refused is refused again
// without STS for NegativeTTL, so a bad token cannot hammer STS; other
// callers are not affected, and a refusal during a background refresh drops
// the credentials the token had.
func TestCallerWebIdentityNegativeCache(t *testing.T) {
	clock := newFakeClock()
	f := newFakeSTS(t, clock)
	w := newCallerWI(t, f, CallerWebIdentityOptions{NegativeTTL: 30 * time.Second})
	ctx := context.Background()
	good := fakeJWT(t, clock.Now().Add(3*time.Hour), "good")
	bad := fakeJWT(t, clock.Now().Add(3*time.Hour), "bad")
	if _, err := w.Retrieve(ctx, good); err != nil {
		t.Fatal(err)
	}

	f.set(func(f *fakeSTS) { f.status, f.code = http.StatusBadRequest, "InvalidIdentityToken" })
	for i := range 20 {
		_, err := w.Retrieve(ctx, bad)
		var se *STSError
		if !errors.As(err, &se) || se.Code != "InvalidIdentityToken" || !IsCallerError(err) {
			t.Fatalf("try %d: err = %v, want STS's InvalidIdentityToken", i, err)
		}
	}
	if n := f.Calls(); n != 2 {
		t.Errorf("STS calls = %d, want 2: one for the good token, one for 20 tries of the bad", n)
	}
	if _, err := w.Retrieve(ctx, good); err != nil {
		t.Errorf("the good token is affected: %v", err)
	}

	clock.Advance(30 * time.Second)
	if _, err := w.Retrieve(ctx, bad); err == nil {
		t.Fatal("the bad token was accepted")
	}
	if n := f.Calls(); n != 3 {
		t.Errorf("STS calls = %d, want 3: the refusal is forgotten after NegativeTTL", n)
	}

	// STS now refuses the good token too (say, its role's trust changed):
	// the background refresh drops its credentials.
	clock.Advance(time.Hour - DefaultRefreshBefore)
	if _, err := w.Retrieve(ctx, good); err != nil {
		t.Fatalf("inside the margin, before the refresh: %v", err)
	}
	w.wait()
	if _, err := w.Retrieve(ctx, good); !IsCallerError(err) {
		t.Errorf("after STS refused the refresh: err = %v, want the refusal", err)
	}
}

// TestCallerWebIdentityBoundsSTSCalls: many callers at once make at most
// MaxConcurrentSTS calls to STS at a time, and all get credentials.
func TestCallerWebIdentityBoundsSTSCalls(t *testing.T) {
	clock := newFakeClock()
	f := newFakeSTS(t, clock)
	const limit, callers = 3, 12
	w := newCallerWI(t, f, CallerWebIdentityOptions{MaxConcurrentSTS: limit})
	gate := make(chan struct{})
	entered := make(chan struct{}, callers)
	f.set(func(f *fakeSTS) { f.gate, f.entered = gate, entered })

	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range callers {
		tok := fakeJWT(t, clock.Now().Add(time.Hour), fmt.Sprintf("caller-%d", i))
		wg.Go(func() {
			if _, err := w.Retrieve(context.Background(), tok); err != nil {
				t.Error(err)
				failed.Add(1)
			}
		})
	}
	for range limit {
		<-entered // the first calls reach STS and are held there
	}
	// Every slot is taken: the other callers queue for one (the handler
	// records how many calls were ever in flight at once).
	if n := len(w.sem); n != limit {
		t.Errorf("%d STS slots taken, want %d", n, limit)
	}
	close(gate)
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.maxInFlight > limit || f.calls != callers || failed.Load() != 0 {
		t.Errorf("STS calls %d (at most %d at once), %d failed; want %d, at most %d, none", f.calls, f.maxInFlight, failed.Load(), callers, limit)
	}
}
