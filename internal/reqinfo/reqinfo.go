// Package reqinfo carries what one request went through (its ID, route,
// caller, upstream status and how long each phase took) from the code that
// knows it (the router, inbound auth, the signing transport) to the code
// that reports it (the access log, tracing), through the request's context.
// It is a leaf: the proxy records into it without knowing who reads.
package reqinfo

import (
	"context"
	"net/http"
	"time"
)

// Phase is one timed step of proxying a request.
type Phase uint8

// The phases the signing transport reports.
const (
	// Credentials is fetching the signing keys (a cache hit, or STS).
	Credentials Phase = iota
	// Signing is computing the signature, once the payload hash is known.
	Signing
	// Upstream runs from sending the request to the upstream's response
	// headers: the upstream's time to first byte.
	Upstream
	numPhases
)

func (p Phase) String() string {
	switch p {
	case Credentials:
		return "credentials"
	case Signing:
		return "signing"
	case Upstream:
		return "upstream"
	}
	return "unknown"
}

// Tracer opens a span per phase; internal/telemetry implements it. For
// Upstream, h is the outgoing request's header, for the trace context to
// travel in (it is never signed). The returned func ends the span with the
// upstream's status (0 for other phases) and the phase's error.
type Tracer interface {
	StartPhase(ctx context.Context, p Phase, h http.Header) (context.Context, func(status int, err error))
}

// Info is one request's record. The goroutine serving the request writes it
// (ReverseProxy calls its transport on that goroutine) and the middlewares
// read it once the handler returned, so it needs no lock.
type Info struct {
	// ID is the caller's X-Request-Id or a generated one.
	ID string
	// Route is the name of the route that served the request.
	Route string
	// Caller is who inbound authentication says the caller is; empty
	// when the route does not authenticate callers.
	Caller string
	// Status is what the caller was answered, set by the access log once
	// the request has been served.
	Status int
	// UpstreamStatus is the upstream's status code; 0 when the request
	// never got an answer from it.
	UpstreamStatus int
	// TraceID is the request's trace, when tracing is on, for the access
	// log to name.
	TraceID string
	// Tracer, when set, opens a span for each phase.
	Tracer Tracer
	// Now is the clock phases are timed with; time.Now when nil.
	Now func() time.Time
	// Received is when the proxy took the request (time.Now, the metrics'
	// clock): the signing metric runs from it to the upstream call, which
	// then clears it so that a retry's wait is not counted as signing.
	Received time.Time

	durations [numPhases]time.Duration
}

type key struct{}

// With returns ctx carrying i.
func With(ctx context.Context, i *Info) context.Context { return context.WithValue(ctx, key{}, i) }

// From returns the Info in ctx, or nil.
func From(ctx context.Context) *Info {
	i, _ := ctx.Value(key{}).(*Info)
	return i
}

// SetCaller records the authenticated caller's identity for the access log
// and traces; inbound authentication calls it. It does nothing when ctx
// carries no Info.
func SetCaller(ctx context.Context, caller string) {
	if i := From(ctx); i != nil {
		i.Caller = caller
	}
}

// Duration is the time spent in phase p (summed, should it run twice).
func (i *Info) Duration(p Phase) time.Duration {
	if p >= numPhases {
		return 0
	}
	return i.durations[p]
}

func (i *Info) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// Span is one phase of one request being timed; End ends it. A Span is a
// value so that timing a phase allocates nothing (a closure would, three
// times per request).
type Span struct {
	i       *Info
	p       Phase
	start   time.Time
	spanEnd func(status int, err error) // the tracer's, when tracing
}

// Begin starts phase p of the request whose context is ctx. The context it
// returns carries the phase's span, when tracing. Without an Info in ctx the
// phase is still timed (for the caller's metrics) but recorded nowhere.
func Begin(ctx context.Context, p Phase, h http.Header) (context.Context, Span) {
	i := From(ctx)
	if i == nil || p >= numPhases {
		return ctx, Span{p: numPhases, start: time.Now()}
	}
	s := Span{i: i, p: p, start: i.now()}
	if i.Tracer != nil {
		ctx, s.spanEnd = i.Tracer.StartPhase(ctx, p, h)
	}
	return ctx, s
}

// Info is the record the phase is timed into; nil when the context had
// none.
func (s Span) Info() *Info { return s.i }

// End ends the phase, with the upstream's status for Upstream, and returns
// how long it took.
func (s Span) End(status int, err error) time.Duration {
	if s.i == nil {
		return time.Since(s.start)
	}
	d := s.i.now().Sub(s.start)
	s.i.durations[s.p] += d
	if s.p == Upstream && status != 0 {
		s.i.UpstreamStatus = status
	}
	if s.spanEnd != nil {
		s.spanEnd(status, err)
	}
	return d
}
