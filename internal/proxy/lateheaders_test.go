package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLateHeaders: one timer serves every deadline, in order; a wait that
// ends in time is never cancelled, one that does not is cancelled with a
// *ResponseTimeoutError no sooner than its timeout, and the timer is armed
// again after the list has emptied.
func TestLateHeaders(t *testing.T) {
	const d = 150 * time.Millisecond
	l := newLateHeaders(d)
	type wait struct {
		started time.Time
		fired   chan time.Time
	}
	begin := func() (*wait, *deadline) {
		w := &wait{started: time.Now(), fired: make(chan time.Time, 1)}
		return w, l.start(func(cause error) {
			var rt *ResponseTimeoutError
			if !errors.As(cause, &rt) || rt.After != d {
				t.Errorf("cancelled with %v, want a *ResponseTimeoutError after %s", cause, d)
			}
			w.fired <- time.Now()
		})
	}
	firedAfter := func(name string, w *wait) {
		t.Helper()
		select {
		case at := <-w.fired:
			if got := at.Sub(w.started); got < d {
				t.Errorf("%s: cancelled after %s, before its timeout of %s", name, got, d)
			}
		case <-time.After(10 * d):
			t.Fatalf("%s: not cancelled %s after its timeout", name, 10*d)
		}
	}

	a, da := begin()
	time.Sleep(d / 3)
	b, db := begin()
	c, dc := begin()
	if l.stop(dc) {
		t.Error("a wait stopped at once was late")
	}
	firedAfter("first", a)
	firedAfter("second", b)
	if !l.stop(da) || !l.stop(db) {
		t.Error("stop did not report the waits that ran out")
	}
	select {
	case <-c.fired:
		t.Error("a wait stopped in time was cancelled")
	default:
	}

	// The list is empty and the timer idle: a new wait arms it again.
	e, de := begin()
	firedAfter("after the list emptied", e)
	if !l.stop(de) {
		t.Error("stop did not report the late wait")
	}
	if newLateHeaders(0) != nil || newLateHeaders(-1) != nil {
		t.Error("no timeout should need no list")
	}
}

// TestLateHeadersConcurrent: under concurrent starts and stops (run with
// -race), stop reports late exactly for the waits that were cancelled.
func TestLateHeadersConcurrent(t *testing.T) {
	l := newLateHeaders(2 * time.Millisecond)
	var wg sync.WaitGroup
	var late, cancelled, mismatched atomic.Int64
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				var called atomic.Bool
				n := l.start(func(error) { called.Store(true) })
				if (g+i)%3 == 0 {
					time.Sleep(3 * time.Millisecond)
				}
				wasLate := l.stop(n)
				if wasLate {
					late.Add(1)
					// fire cancels just after it takes the wait off the list.
					for deadline := time.Now().Add(time.Second); !called.Load() && time.Now().Before(deadline); {
						time.Sleep(time.Millisecond)
					}
				}
				if called.Load() {
					cancelled.Add(1)
				}
				if wasLate != called.Load() {
					mismatched.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if mismatched.Load() != 0 {
		t.Fatalf("%d waits: stop's answer and the cancellation disagree", mismatched.Load())
	}
	if late.Load() == 0 {
		t.Fatal("no wait ran out: the test did not exercise the timer")
	}
	t.Logf("%d late of %d, %d cancelled", late.Load(), 16*200, cancelled.Load())
}

// TestHeadersCameTooLate: an answer that arrives as the timeout fires is
// dropped (its body would fail half-way under the cancelled context) and
// the caller gets the timeout.
func TestHeadersCameTooLate(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&ResponseTimeoutError{After: time.Second})
	body := &closeRecorder{Reader: strings.NewReader("late")}
	resp, err := bodyIdleTransport{}.headersCame(ctx, true, &http.Response{StatusCode: 200, Body: body}, nil)
	var rt *ResponseTimeoutError
	if resp != nil || !errors.As(err, &rt) || !body.closed {
		t.Fatalf("got %v, %v (body closed: %v); want the timeout and the body closed", resp, err, body.closed)
	}
	// In time: the result as it came.
	ok := &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("x"))}
	if resp, err := (bodyIdleTransport{}).headersCame(context.Background(), false, ok, nil); resp != ok || err != nil {
		t.Fatalf("got %v, %v; want the response as it came", resp, err)
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
