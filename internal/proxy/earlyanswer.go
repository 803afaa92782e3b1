package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
)

// earlyAnswerConn keeps a failed write from hiding the upstream's answer.
// An upstream may refuse a request before reading its body (S3's 412 for a
// conditional write, a 403) and close the connection: the rest of the body
// then fails to send with EPIPE or ECONNRESET while the answer sits in the
// receive buffer. http.Transport reports whichever of the two it sees first
// (about 1 time in 5 the write error, a 502 to the caller). While a request
// body is being sent, this conn takes such a write error as the end of the
// upstream's interest: later writes are dropped, and the transport's reader
// delivers the answer, or the reset if there was none. The connection is
// closed afterwards either way (the transport cannot reuse it: the request
// was never fully written).
type earlyAnswerConn struct {
	net.Conn
	mu      sync.Mutex
	sending bool  // a request is being sent (see sendingBody)
	wrote   int64 // bytes of it written so far
	gone    bool  // the upstream stopped reading: writes are dropped
	closed  bool
}

func earlyAnswerDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &earlyAnswerConn{Conn: c}, nil
	}
}

func (c *earlyAnswerConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	gone, closed := c.gone, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return 0, net.ErrClosed
	case gone:
		return len(p), nil
	}
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wrote += int64(n)
	// On a request's first bytes (a reused connection the upstream had
	// closed) the error stands, so the transport can retry on a fresh one.
	if err != nil && c.sending && c.wrote > 0 && !c.closed &&
		(errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
		c.gone = true
		return len(p), nil
	}
	return n, err
}

// NetConn is the connection underneath, for those that must reach its socket.
func (c *earlyAnswerConn) NetConn() net.Conn { return c.Conn }

func (c *earlyAnswerConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

// sendingBody marks the span from a request's connection being chosen to
// its having been written; conn is what httptrace's GotConn reports. HTTP/2
// is left alone: its streams share a connection, and it hears an early
// answer on its own stream.
func sendingBody(conn net.Conn, sending bool) {
	if tc, ok := conn.(*tls.Conn); ok {
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			return
		}
		conn = tc.NetConn()
	}
	if c, ok := conn.(*earlyAnswerConn); ok {
		c.mu.Lock()
		c.sending, c.wrote = sending, 0
		c.mu.Unlock()
	}
}
