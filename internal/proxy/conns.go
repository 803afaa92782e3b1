package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// UpstreamConns counts upstream connections and the requests in flight on
// them, by protocol. With HTTP/1.1 each request in flight holds a
// connection of its own; with HTTP/2 they are streams sharing connections,
// so "many streams on one open connection" is what an operator looks for
// when an HTTP/2 upstream is the bottleneck. One value serves every
// transport of a gateway; its methods are safe for concurrent use and
// cost a few atomic operations per request.
type UpstreamConns struct {
	opened atomic.Uint64
	open   atomic.Int64
	// inFlight counts requests from their response headers to the end of
	// their body, [0] HTTP/1.x and [1] HTTP/2. The wait for headers is in
	// signway_requests_in_flight; the protocol is only known from the response.
	inFlight [2]atomic.Int64
}

// Opened is the number of upstream connections dialled so far.
func (c *UpstreamConns) Opened() uint64 { return c.opened.Load() }

// Open is the number of upstream connections open now.
func (c *UpstreamConns) Open() int64 { return c.open.Load() }

// InFlight is the number of responses being received now over HTTP/2
// (streams) or HTTP/1.x (connections in use).
func (c *UpstreamConns) InFlight(h2 bool) int64 {
	if h2 {
		return c.inFlight[1].Load()
	}
	return c.inFlight[0].Load()
}

// dialer wraps dial so every connection it makes is counted until closed.
func (c *UpstreamConns) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.opened.Add(1)
		c.open.Add(1)
		return &countedConn{Conn: conn, open: &c.open}, nil
	}
}

type countedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

// NetConn is the connection counted, for those that must reach its socket.
func (c *countedConn) NetConn() net.Conn { return c.Conn }

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

// track counts resp as in flight until its body is closed. Upgraded
// connections (101) keep their body as it is: ReverseProxy needs it to be
// the raw io.ReadWriteCloser.
func (c *UpstreamConns) track(resp *http.Response) {
	if c == nil || resp.StatusCode == http.StatusSwitchingProtocols || resp.Body == nil || resp.Body == http.NoBody {
		return
	}
	n := &c.inFlight[0]
	if resp.ProtoMajor == 2 {
		n = &c.inFlight[1]
	}
	n.Add(1)
	resp.Body = &trackedBody{ReadCloser: resp.Body, n: n}
}

type trackedBody struct {
	io.ReadCloser
	n    *atomic.Int64
	once sync.Once
}

func (b *trackedBody) Close() error {
	b.once.Do(func() { b.n.Add(-1) })
	return b.ReadCloser.Close()
}
