package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/signway/signway/internal/config"
)

// responseTimeout is the route's response timeout; 0 or less is none.
func (rt *Route) responseTimeout() time.Duration {
	switch {
	case rt.ResponseTimeout == 0:
		return config.DefaultResponseTimeout.D()
	case rt.ResponseTimeout < 0:
		return 0
	}
	return rt.ResponseTimeout
}

// UpstreamTimeoutError is an upstream that sent no response headers within
// the route's response timeout of receiving the whole request; it is
// answered 504.
type UpstreamTimeoutError struct{ After time.Duration }

func (e *UpstreamTimeoutError) Error() string {
	return fmt.Sprintf("no response headers %s after the request was sent (timeouts.response)", e.After)
}

// Timeout makes it count as a timeout wherever errors are sorted.
func (e *UpstreamTimeoutError) Timeout() bool { return true }

// responseTimeoutTransport bounds the wait for response headers once the
// request, body included, has been sent. It is not http.Transport's
// ResponseHeaderTimeout because over HTTP/2 that one reports its expiry as
// an error that is not a timeout (so 502 rather than 504), and takes a
// negative duration, which is how "none" reaches a transport, as "at once":
// every request to an HTTP/2 upstream failed. It costs about the same per
// request (measured against an HTTP/2 origin).
type responseTimeoutTransport struct {
	base  http.RoundTripper
	after time.Duration // 0: no timeout
}

func (t responseTimeoutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.after <= 0 {
		return t.base.RoundTrip(r)
	}
	// Released with the caller's request, whose context this derives from:
	// the response body is read under it after RoundTrip returns.
	ctx, cancel := context.WithCancelCause(r.Context())
	w := &responseWatch{after: t.after, cancel: cancel}
	if r.Body == nil || r.Body == http.NoBody {
		w.arm() // nothing to send but the headers
	} else {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { w.arm() }})
	}
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if !w.settle() {
		if err == nil {
			resp.Body.Close() // came as the timeout fired: too late
		}
		return nil, &UpstreamTimeoutError{After: t.after}
	}
	return resp, err
}

// responseWatch is one request's timer: armed once the request is sent,
// settled when the response headers (or an error) came.
type responseWatch struct {
	after  time.Duration
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	timer   *time.Timer
	settled bool
	fired   bool
}

func (w *responseWatch) arm() {
	w.mu.Lock()
	if !w.settled && w.timer == nil {
		w.timer = time.AfterFunc(w.after, w.fire)
	}
	w.mu.Unlock()
}

func (w *responseWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.settled {
		w.fired = true
		w.cancel(&UpstreamTimeoutError{After: w.after})
	}
}

// settle ends the watch; it reports false when the timeout came first.
func (w *responseWatch) settle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.settled = true
	if w.timer != nil {
		w.timer.Stop()
	}
	return !w.fired
}
