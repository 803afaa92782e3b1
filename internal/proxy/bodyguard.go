package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// A streamed body that ends early (the caller reset or half-closed, a hash
// or checksum failed) must not complete upstream. Over HTTP/1.1 the
// transport then closes the connection, and a FIN after the bytes sent so
// far reads, to some servers, as the end of the body: versitygw stored the
// first 1,000,000 bytes of a PUT that declared 3,000,000. So while a
// streamed body is being sent, the upstream connection lingers for 0s: any
// close before the body's last byte is a reset, which no server takes for
// an end. The normal close is back once the upstream has answered, so a
// connection kept for reuse is never reset. Not when the body has been read
// to its end: the transport then still holds up to its write buffer (16
// KiB) of it, and a request cancelled before that is flushed (a caller that
// sent its whole body and hung up) ended, with a FIN, as a truncated object
// stored (a client-abort run of internal/faults: 128,000 bytes of
// 139,318). HTTP/2 needs none of this: the transport resets the stream
// (RST_STREAM), never ends it.

// guardBody wraps out's body so that the upstream connection is reset, not
// closed, unless the upstream answers: call answered on the guard (nil when
// out has no body) once the round trip has returned a response.
func guardBody(out *http.Request) (*http.Request, *bodyGuard) {
	if out.Body == nil || out.Body == http.NoBody {
		return out, nil
	}
	g := &bodyGuard{ReadCloser: out.Body}
	out = out.WithContext(httptrace.WithClientTrace(out.Context(), &httptrace.ClientTrace{GotConn: g.gotConn}))
	out.Body = g
	return out, g
}

type bodyGuard struct {
	io.ReadCloser
	mu   sync.Mutex
	conn *net.TCPConn // the HTTP/1.1 connection the body goes over, lingering 0s
	done bool         // the upstream answered
}

func (g *bodyGuard) gotConn(info httptrace.GotConnInfo) {
	c := tcpConn(info.Conn)
	if c == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return
	}
	if g.conn != nil && g.conn != c {
		g.conn.SetLinger(-1) // a retry on another connection
	}
	if c.SetLinger(0) == nil {
		g.conn = c
	}
}

// answered gives the connection its normal close back: the upstream has
// answered, so it has all of the body it wanted. g may be nil.
func (g *bodyGuard) answered() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.done && g.conn != nil {
		g.conn.SetLinger(-1)
	}
	g.done = true
}

// tcpConn is the TCP connection under c when it carries HTTP/1.x; nil for
// HTTP/2 or a connection it cannot see through.
func tcpConn(c net.Conn) *net.TCPConn {
	for c != nil {
		switch v := c.(type) {
		case *net.TCPConn:
			return v
		case *tls.Conn:
			if v.ConnectionState().NegotiatedProtocol == "h2" {
				return nil
			}
			c = v.NetConn()
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}
