package proxy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/signway/signway/internal/config"
)

// responseTimeout is the route's response timeout; 0 or less is none.
func (rt *Route) responseTimeout() time.Duration {
	return routeLimit(rt.ResponseTimeout, config.DefaultResponseTimeout)
}

// ResponseTimeoutError is an upstream that sent no response headers within
// the route's response timeout of receiving the whole request; it is
// answered 504.
type ResponseTimeoutError struct{ After time.Duration }

func (e *ResponseTimeoutError) Error() string {
	return fmt.Sprintf("no response headers within %s of sending the request (timeouts.response)", e.After)
}

// Timeout makes the wait count as a timeout wherever errors are sorted (and
// keeps it from being retried: the upstream had the request).
func (e *ResponseTimeoutError) Timeout() bool { return true }

// lateHeaders cancels the requests whose response headers have not come
// within d of their being sent. One timer serves all of a route's requests:
// they share d, so deadlines join the list in the order they fall due, the
// oldest first, and the timer is armed for that one only.
//
// Go's transports have the same limit (ResponseHeaderTimeout), but they arm
// a timer per request, and over HTTP/2 the request's goroutine then wakes
// twice, for the headers and for the end of the stream: against a TLS
// HTTP/2 origin that cost 6.5 µs of CPU per request (docs/performance.md),
// where this costs two uncontended locks.
type lateHeaders struct {
	d     time.Duration
	mu    sync.Mutex
	head  *deadline // the first to fall due
	tail  *deadline
	timer *time.Timer // made on first use; armed while the list is not empty
	armed bool
}

// deadline is one request waiting for its response headers.
type deadline struct {
	at         time.Time
	cancel     context.CancelCauseFunc
	prev, next *deadline
	listed     bool
	fired      bool
}

var deadlines = sync.Pool{New: func() any { return new(deadline) }}

// newLateHeaders returns nil for d <= 0: no limit.
func newLateHeaders(d time.Duration) *lateHeaders {
	if d <= 0 {
		return nil
	}
	return &lateHeaders{d: d}
}

// start starts the clock for a request that has been sent: cancel is called
// with a *ResponseTimeoutError unless stop comes first.
func (l *lateHeaders) start(cancel context.CancelCauseFunc) *deadline {
	n := deadlines.Get().(*deadline)
	n.cancel = cancel
	l.mu.Lock()
	n.at = time.Now().Add(l.d)
	n.prev, n.next, n.listed, n.fired = l.tail, nil, true, false
	if l.tail != nil {
		l.tail.next = n
	} else {
		l.head = n
	}
	l.tail = n
	if !l.armed {
		// An armed timer is never moved: it is set for an older deadline.
		l.armed = true
		if l.timer == nil {
			l.timer = time.AfterFunc(l.d, l.fire)
		} else {
			l.timer.Reset(l.d)
		}
	}
	l.mu.Unlock()
	return n
}

// stop ends n's wait (the headers came, or the request failed) and reports
// whether its time had run out first. n must not be used afterwards.
func (l *lateHeaders) stop(n *deadline) (late bool) {
	l.mu.Lock()
	if n.listed {
		l.unlink(n)
	}
	late = n.fired
	l.mu.Unlock()
	n.cancel = nil
	deadlines.Put(n)
	return late
}

func (l *lateHeaders) unlink(n *deadline) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next, n.listed = nil, nil, false
}

// fire cancels every request whose deadline has passed and re-arms the
// timer for the next one.
func (l *lateHeaders) fire() {
	var due []context.CancelCauseFunc
	l.mu.Lock()
	now := time.Now()
	for l.head != nil && !l.head.at.After(now) {
		n := l.head
		l.unlink(n)
		n.fired = true
		due = append(due, n.cancel)
	}
	if l.head != nil {
		l.timer.Reset(l.head.at.Sub(now))
	} else {
		l.armed = false
	}
	l.mu.Unlock()
	if len(due) > 0 {
		err := &ResponseTimeoutError{After: l.d}
		for _, cancel := range due {
			cancel(err)
		}
	}
}
