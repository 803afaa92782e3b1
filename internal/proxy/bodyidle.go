package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signway/signway/internal/config"
)

// bodyIdle is the route's body idle timeout; 0 or less is none.
func (rt *Route) bodyIdle() time.Duration {
	return routeLimit(rt.BodyIdleTimeout, config.DefaultBodyIdleTimeout)
}

// routeLimit is a route's timeout as the proxy applies it: a route's 0 takes
// def, less than 0 is none (returned as 0).
func routeLimit(d time.Duration, def config.Duration) time.Duration {
	switch {
	case d == 0:
		return def.D()
	case d < 0:
		return 0
	}
	return d
}

// BodyIdleError is a caller that stopped sending its request body for the
// route's body idle timeout; it is answered 408.
type BodyIdleError struct{ Idle time.Duration }

func (e *BodyIdleError) Error() string {
	return fmt.Sprintf("the request body sent nothing for %s (timeouts.body_idle)", e.Idle)
}

// UpstreamStalledError is an upstream that stopped reading the request body
// for the route's body idle timeout; it is answered 504.
type UpstreamStalledError struct{ Idle time.Duration }

func (e *UpstreamStalledError) Error() string {
	return fmt.Sprintf("the upstream read nothing of the request body for %s (timeouts.body_idle)", e.Idle)
}

// Timeout makes the stall count as a timeout wherever errors are sorted.
func (e *UpstreamStalledError) Timeout() bool { return true }

// idleBody bounds the wait for each read of a caller's body with a read
// deadline on the caller's connection, so a stalled caller ends with an
// error rather than holding a goroutine, a connection and a spool forever.
type idleBody struct {
	body io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	done bool // the deadline is cleared: the body ended or was closed
	// deadline (Unix nanoseconds) is read by the handler's goroutine while
	// the transport's reads the body.
	deadline atomic.Int64
}

// watchCallerBody wraps r's body; without a body or a timeout it changes
// nothing. The returned body, if any, goes to callerBodyErr.
func watchCallerBody(w http.ResponseWriter, r *http.Request, idle time.Duration) *idleBody {
	if idle <= 0 || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b := &idleBody{body: r.Body, rc: http.NewResponseController(w), idle: idle}
	r.Body = b
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	if !b.done {
		d := time.Now().Add(b.idle)
		b.deadline.Store(d.UnixNano())
		// Not supported only off a real server (a test recorder): the
		// body is then read as it is.
		_ = b.rc.SetReadDeadline(d)
	}
	n, err := b.body.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.done = true
		return n, &BodyIdleError{Idle: b.idle}
	default:
		// At the end the deadline must go: the server's own read that
		// watches for the caller hanging up would otherwise hit it, and
		// cancel the request while it waits for the upstream.
		b.clear()
	}
	return n, err
}

func (b *idleBody) clear() {
	if !b.done {
		b.done = true
		b.deadline.Store(0)
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}

func (b *idleBody) Close() error {
	b.clear()
	return b.body.Close()
}

// callerBodyErr is err, unless the caller's body timed out. The server then
// also cancels the request's context, and the transport may report that
// cancellation (or its own write error) rather than the read error behind
// it: a cancelled request whose body deadline has passed timed out.
func callerBodyErr(r *http.Request, b *idleBody, err error) error {
	if b == nil || errors.As(err, new(*BodyIdleError)) {
		return err
	}
	if d := b.deadline.Load(); d != 0 && r.Context().Err() != nil && time.Now().UnixNano() >= d {
		return &BodyIdleError{Idle: b.idle}
	}
	return err
}

// bodyIdleTransport watches requests on their way out. With a body, it
// bounds how long the upstream may go without taking request body bytes:
// while the transport is not waiting on the caller (a read of the body), it
// is waiting on the upstream, and after idle the request is cancelled. The
// response timeout (late) only starts once the body is written, so without
// this an upstream that never reads a PUT body would hold the request
// forever. It also tells the connection when a body is being sent, so an
// early answer is not lost to a write error (see earlyAnswerConn).
type bodyIdleTransport struct {
	base http.RoundTripper
	idle time.Duration
	late *lateHeaders // the response timeout; nil for none
}

func (t bodyIdleTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	hasBody := r.Body != nil && r.Body != http.NoBody
	if !hasBody && t.late == nil {
		return t.base.RoundTrip(r)
	}
	// Released with the caller's request, whose context this derives from.
	ctx, cancel := context.WithCancelCause(r.Context())
	if !hasBody {
		// Sent as soon as it is written: the clock starts now.
		dl := t.late.start(cancel)
		resp, err := t.base.RoundTrip(r.WithContext(ctx))
		return t.headersCame(ctx, t.late.stop(dl), resp, err)
	}
	wd := &watchdog{idle: t.idle, cancel: cancel}
	wd.timer = time.AfterFunc(time.Hour, wd.fire)
	wd.timer.Stop()
	var conn net.Conn
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			conn = info.Conn
			sendingBody(conn, true)
			wd.resume()
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			if conn != nil {
				sendingBody(conn, false)
			}
			wd.sent(t.late)
		},
	})
	out := r.WithContext(ctx)
	out.Body = &watchedBody{body: r.Body, wd: wd}
	if r.GetBody != nil {
		out.GetBody = func() (io.ReadCloser, error) {
			b, err := r.GetBody()
			if err != nil {
				return nil, err
			}
			return &watchedBody{body: b, wd: wd}, nil
		}
	}
	resp, err := t.base.RoundTrip(out)
	late := false
	if dl := wd.stop(); dl != nil {
		late = t.late.stop(dl)
	}
	if err != nil {
		var stalled *UpstreamStalledError
		if errors.As(context.Cause(ctx), &stalled) {
			return nil, stalled
		}
	}
	return t.headersCame(ctx, late, resp, err)
}

// headersCame is the round trip's result once its response timeout is off:
// a timeout when it ran out, even if the answer came as it did (the
// request's context is cancelled, and its body would fail half-way).
func (t bodyIdleTransport) headersCame(ctx context.Context, late bool, resp *http.Response, err error) (*http.Response, error) {
	if !late {
		return resp, err
	}
	// Declared past the early return: errors.As makes it escape, and a
	// variable that escapes is allocated where it is declared.
	var timeout *ResponseTimeoutError
	if errors.As(context.Cause(ctx), &timeout) {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, timeout
	}
	return resp, err
}

// watchdog fires when the transport has neither been reading the body nor
// finished writing it for idle.
type watchdog struct {
	mu     sync.Mutex
	timer  *time.Timer
	idle   time.Duration
	cancel context.CancelCauseFunc
	inRead bool // waiting on the caller: its own deadline applies
	done   bool
	// headers is the response timeout's clock, from the body's last byte.
	headers *deadline
}

func (w *watchdog) resume() {
	w.mu.Lock()
	if w.idle > 0 && !w.done && !w.inRead {
		w.timer.Reset(w.idle)
	}
	w.mu.Unlock()
}

func (w *watchdog) pause() {
	w.mu.Lock()
	w.inRead = true
	w.timer.Stop()
	w.mu.Unlock()
}

// sent is the whole request written: the body's watch ends, and the wait
// for the response headers starts (late is nil for no limit). The
// transport may call it after RoundTrip returned (an early answer): stop
// has then run, and the wait is over already.
func (w *watchdog) sent(late *lateHeaders) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer.Stop()
	if !w.done && late != nil && w.headers == nil {
		w.headers = late.start(w.cancel)
	}
	w.done = true
}

// stop ends the watch when the round trip returns, and hands over the
// response timeout's clock if it started.
func (w *watchdog) stop() *deadline {
	w.mu.Lock()
	w.done = true
	w.timer.Stop()
	dl := w.headers
	w.headers = nil
	w.mu.Unlock()
	return dl
}

func (w *watchdog) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && !w.inRead {
		w.cancel(&UpstreamStalledError{Idle: w.idle})
	}
}

type watchedBody struct {
	body io.ReadCloser
	wd   *watchdog
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.wd.pause()
	n, err := b.body.Read(p)
	b.wd.mu.Lock()
	b.wd.inRead = false
	b.wd.mu.Unlock()
	// After the last byte the transport still flushes its buffer to the
	// upstream: the watch goes on until it reports the request written.
	b.wd.resume()
	return n, err
}

func (b *watchedBody) Close() error { return b.body.Close() }
