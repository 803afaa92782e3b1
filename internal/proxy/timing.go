package proxy

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// timing follows one request through the signing and upstream steps, for
// the signing and upstream latency metrics. It is the request's context
// (which the signing transport's clone keeps), so that it costs one
// allocation rather than a context value and a struct.
type timing struct {
	context.Context
	signStart time.Time
}

type timingKey struct{}

func (t *timing) Value(key any) any {
	if key == (timingKey{}) {
		return t
	}
	return t.Context.Value(key)
}

func timingOf(ctx context.Context) *timing {
	t, _ := ctx.Value(timingKey{}).(*timing)
	return t
}

// upstreamTimer sits between the signing transport and the upstream one: the
// time since the proxy took the request (signStart) is signing's, and the
// time to response headers is the upstream's.
type upstreamTimer struct {
	next    http.RoundTripper
	route   string
	metrics Metrics
}

func (u upstreamTimer) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	if t := timingOf(r.Context()); t != nil && !t.signStart.IsZero() {
		u.metrics.ObserveSigning(u.route, start.Sub(t.signStart))
		// A retry re-signs and comes through here again: its wait and the
		// first attempt are not signing time.
		t.signStart = time.Time{}
	}
	resp, err := u.next.RoundTrip(r)
	if err == nil {
		u.metrics.ObserveUpstream(u.route, resp.StatusCode, time.Since(start))
	}
	return resp, err
}

// countingBody counts the request body bytes signway read from the caller.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64 // read on the handler's goroutine after the transport's may still be reading
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}
