// Package connguard closes inbound connections that hold a server without
// using it: a new connection that has not sent a whole request's headers
// (the TLS handshake included) within the header timeout, a keep-alive
// HTTP/1.1 connection whose next request's headers take as long, and any
// connection, HTTP/2 included, idle between requests for the idle timeout.
//
// net/http's Server.ReadHeaderTimeout and IdleTimeout do the same with
// three read deadlines per request, each a change to a runtime timer; under
// load they cost signway about 5 µs of CPU per request
// (docs/performance.md). Here one goroutine per listener looks at every
// connection a few times per timeout, and a request costs two state changes
// of a few atomic operations each.
package connguard

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options are the limits; 0 is none.
type Options struct {
	// Header bounds the wait for a request's headers: from accepting the
	// connection (handshake included), or from the first byte of a
	// keep-alive connection's next request.
	Header time.Duration
	// Idle bounds the wait between requests on a kept-alive connection.
	Idle time.Duration
}

// Guard watches the connections of one listener. Give the server its
// Listener and ConnState, and Close it once the server has stopped.
type Guard struct {
	opts  Options
	epoch time.Time
	mu    sync.Mutex
	conns map[*conn]struct{}
	stop  chan struct{}
	once  sync.Once
}

// Connection states, as far as the guard cares.
const (
	stateNew     int32 = iota // accepted, no request yet: the header limit runs
	stateActive               // serving a request: no limit here
	stateIdle                 // between requests: the idle limit runs
	stateReading              // HTTP/1 only: the next request's first bytes came
)

// What a connection speaks, as far as the guard can tell.
const (
	protoUnknown int32 = iota // nothing read yet
	protoTLS                  // TLS: ALPN decides, at the first request
	protoHTTP1
	protoHTTP2 // between streams, bytes are pings and settings, not headers
)

type conn struct {
	net.Conn
	g     *Guard
	state atomic.Int32
	since atomic.Int64 // g.now() when the state began
	proto atomic.Int32
	// first holds the first bytes read, until they tell the protocol. Only
	// the first reader touches it: later reads see proto set.
	first []byte
}

// New starts the guard's watch.
func New(o Options) *Guard {
	g := &Guard{opts: o, epoch: time.Now(), conns: map[*conn]struct{}{}, stop: make(chan struct{})}
	if every := g.every(); every > 0 {
		go g.watch(every)
	}
	return g
}

// every is how often connections are looked at: a quarter of the shortest
// limit, at most a second, so a connection is closed within that of its
// limit.
func (g *Guard) every() time.Duration {
	shortest := time.Duration(0)
	for _, d := range []time.Duration{g.opts.Header, g.opts.Idle} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	return min(shortest/4, time.Second)
}

func (g *Guard) now() int64 { return int64(time.Since(g.epoch)) }

// Close stops the watch. Connections stay open: the server's Shutdown or
// Close ends them.
func (g *Guard) Close() { g.once.Do(func() { close(g.stop) }) }

// Listener wraps ln so that the guard sees every connection it accepts.
func (g *Guard) Listener(ln net.Listener) net.Listener { return &listener{Listener: ln, g: g} }

type listener struct {
	net.Listener
	g *Guard
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &conn{Conn: c, g: l.g}
	gc.since.Store(l.g.now())
	l.g.mu.Lock()
	l.g.conns[gc] = struct{}{}
	l.g.mu.Unlock()
	return gc, nil
}

// sniff decides the protocol from the connection's first bytes, which may
// come in more than one read.
func (c *conn) sniff(b []byte) {
	const preface = "PRI " // HTTP/2 with prior knowledge
	c.first = append(c.first, b[:min(len(b), len(preface)-len(c.first))]...)
	switch {
	case c.first[0] == 0x16: // a TLS handshake record: ALPN decides later
		c.proto.Store(protoTLS)
	case string(c.first) == preface:
		c.proto.Store(protoHTTP2)
	case len(c.first) < len(preface) && strings.HasPrefix(preface, string(c.first)):
		// Too short to tell yet.
	default:
		c.proto.Store(protoHTTP1)
	}
}

// NetConn is the accepted connection, for code that needs its socket.
func (c *conn) NetConn() net.Conn { return c.Conn }

// Read notes when a keep-alive HTTP/1 connection starts its next request:
// from then on, the header limit applies instead of the idle one.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n == 0 {
		return n, err
	}
	if c.proto.Load() == protoUnknown {
		c.sniff(p[:n])
	}
	if c.proto.Load() == protoHTTP1 && c.state.Load() == stateIdle {
		c.since.Store(c.g.now())
		c.state.CompareAndSwap(stateIdle, stateReading)
	}
	return n, err
}

func (c *conn) Close() error {
	c.g.forget(c)
	return c.Conn.Close()
}

func (g *Guard) forget(c *conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// ConnState is the server's http.Server.ConnState hook.
func (g *Guard) ConnState(nc net.Conn, s http.ConnState) {
	c, tc := unwrap(nc)
	if c == nil {
		return
	}
	switch s {
	case http.StateActive:
		if tc != nil && c.proto.Load() == protoTLS {
			proto := protoHTTP1
			if tc.ConnectionState().NegotiatedProtocol == "h2" {
				proto = protoHTTP2
			}
			c.proto.Store(proto)
		}
		c.state.Store(stateActive)
	case http.StateIdle:
		c.since.Store(g.now())
		c.state.Store(stateIdle)
	case http.StateHijacked, http.StateClosed:
		g.forget(c)
	}
}

// unwrap finds the guard's conn under the server's (a *tls.Conn over it,
// or itself).
func unwrap(nc net.Conn) (*conn, *tls.Conn) {
	switch v := nc.(type) {
	case *conn:
		return v, nil
	case *tls.Conn:
		c, _ := v.NetConn().(*conn)
		return c, v
	}
	return nil, nil
}

func (g *Guard) watch(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.sweep()
		}
	}
}

// sweep closes the connections past their limit.
func (g *Guard) sweep() {
	now := g.now()
	type seen struct {
		c     *conn
		since int64
	}
	var overdue []seen
	g.mu.Lock()
	for c := range g.conns {
		var limit time.Duration
		switch c.state.Load() {
		case stateNew, stateReading:
			limit = g.opts.Header
		case stateIdle:
			limit = g.opts.Idle
		}
		if since := c.since.Load(); limit > 0 && time.Duration(now-since) >= limit {
			overdue = append(overdue, seen{c, since})
		}
	}
	g.mu.Unlock()
	for _, o := range overdue {
		// Not if it moved on meanwhile (a request came): a state change
		// sets since, or makes the connection active.
		if o.c.since.Load() == o.since && o.c.state.Load() != stateActive {
			o.c.Close()
		}
	}
}
