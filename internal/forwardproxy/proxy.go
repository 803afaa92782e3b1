package forwardproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options assemble a forward proxy.
type Options struct {
	// CA mints the certificate presented inside each intercepted tunnel.
	CA *CA
	// Listed reports whether a host (lower case, no port) is on the
	// allowlist: a tunnel to it is intercepted, and an absolute-form
	// request to it served.
	Listed func(host string) bool
	// Tunnel passes a CONNECT to an unlisted host through untouched
	// (forward_proxy.unlisted: tunnel); otherwise it is refused with 403.
	Tunnel bool
	// Handler serves each request read inside an intercepted tunnel, and
	// absolute-form requests to listed hosts, with the tunnel's host as
	// Host: the gateway's host rules, caller authentication and signing.
	Handler http.Handler
	// Next serves every other request: the gateway as a reverse proxy.
	Next http.Handler
	// Dial opens blind tunnels; nil means a net.Dialer with a 10 s timeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives refusals and tunnel failures; nil discards.
	Logger *slog.Logger
}

// Proxy is an http.Handler for the main listener when forward_proxy is
// set. Close ends the tunnels it holds.
type Proxy struct {
	o Options

	mu      sync.Mutex
	conns   map[net.Conn]struct{} // both ends of blind tunnels
	closing bool
	tunnels atomic.Int64
}

// New checks o and returns the proxy.
func New(o Options) (*Proxy, error) {
	if o.CA == nil || o.Listed == nil || o.Handler == nil || o.Next == nil {
		return nil, errors.New("forwardproxy: CA, Listed, Handler and Next are required")
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Proxy{o: o, conns: map[net.Conn]struct{}{}}, nil
}

// Timeouts inside an intercepted tunnel, as on the main listener.
const (
	handshakeTimeout  = 10 * time.Second
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r)
	case r.URL.IsAbs():
		p.absolute(w, r)
	default:
		p.o.Next.ServeHTTP(w, r)
	}
}

// refuse answers in words that say what to change, never which hosts are listed.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, status int, host, why string) {
	p.o.Logger.Info("forward proxy refused", "method", r.Method, "host", host, "status", status, "reason", why, "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "signway forward proxy: %s\n", why)
}

func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || host == "" || port == "" {
		p.refuse(w, r, http.StatusBadRequest, r.Host, fmt.Sprintf("CONNECT needs host:port, got %q", r.Host))
		return
	}
	host = strings.ToLower(host)
	listed := p.o.Listed(host)
	if !listed && !p.o.Tunnel {
		p.refuse(w, r, http.StatusForbidden, host, fmt.Sprintf("%s is not on this signway's host allowlist (hosts:), and unlisted hosts are refused", host))
		return
	}
	if r.ProtoMajor != 1 {
		p.refuse(w, r, http.StatusHTTPVersionNotSupported, host, "CONNECT is served over HTTP/1.1 only; configure the client's proxy as http://")
		return
	}
	var upstream net.Conn
	if !listed {
		if upstream, err = p.o.Dial(r.Context(), "tcp", net.JoinHostPort(host, port)); err != nil {
			p.refuse(w, r, http.StatusBadGateway, host, fmt.Sprintf("cannot connect to %s:%s for the tunnel", host, port))
			return
		}
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		if upstream != nil {
			upstream.Close()
		}
		p.refuse(w, r, http.StatusInternalServerError, host, "this connection cannot be taken over for a tunnel")
		return
	}
	p.tunnels.Add(1)
	defer p.tunnels.Add(-1)
	if !p.track(conn) {
		conn.Close()
		if upstream != nil {
			upstream.Close()
		}
		return
	}
	defer p.untrack(conn)
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		conn.Close()
		return
	}
	// Bytes the client sent after CONNECT before our answer (a TLS hello
	// sent eagerly) are in buf.
	client := net.Conn(conn)
	if n := buf.Reader.Buffered(); n > 0 {
		peeked, _ := buf.Reader.Peek(n)
		client = &prefixConn{Conn: conn, prefix: append([]byte(nil), peeked...)}
	}
	if upstream != nil {
		p.blind(client, upstream)
		return
	}
	p.intercept(client, host)
}

// intercept terminates TLS with a leaf for host and serves the requests
// inside. Every request must be for the tunnel's host: a client cannot
// open a tunnel to a listed host and then ask for another.
func (p *Proxy) intercept(conn net.Conn, host string) {
	tc := tls.Server(conn, &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return p.o.CA.Certificate(host) // the CONNECT host, whatever the SNI says
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		p.o.Logger.Debug("forward proxy: TLS handshake inside the tunnel failed (does the client trust signway's CA? AWS_CA_BUNDLE)", "host", host, "error", err)
		tc.Close()
		return
	}
	// http.Server serves the handshaken connection in HTTP/2 when ALPN
	// chose h2, in HTTP/1.1 with keep-alive otherwise.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	l := &oneConnListener{conn: tc, done: make(chan struct{})}
	srv := &http.Server{Handler: sameHost(host, p.o.Handler), ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
		Protocols: &protocols, ErrorLog: slog.NewLogLogger(p.o.Logger.Handler(), slog.LevelDebug),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				l.Close()
			}
		}}
	_ = srv.Serve(l)
}

// sameHost serves only requests whose Host is the tunnel's (any port).
func sameHost(host string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		if !strings.EqualFold(strings.Trim(h, "[]"), strings.Trim(host, "[]")) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusMisdirectedRequest)
			fmt.Fprintf(w, "signway forward proxy: this tunnel is for %s, not %s\n", host, r.Host)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// absolute serves an absolute-form request (a plain-HTTP proxy request) to
// a listed host as if it had arrived for that host directly.
func (p *Proxy) absolute(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.URL.Hostname())
	if r.URL.Scheme != "http" || !p.o.Listed(host) {
		p.refuse(w, r, http.StatusForbidden, host, fmt.Sprintf("%s://%s is not on this signway's host allowlist (hosts:)", r.URL.Scheme, host))
		return
	}
	r2 := r.Clone(r.Context())
	r2.Host = r.URL.Host
	r2.URL.Scheme, r2.URL.Host, r2.URL.User = "", "", nil
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Proxy-Authorization")
	r2.Header.Del("Proxy-Connection")
	p.o.Handler.ServeHTTP(w, r2)
}

// blind copies bytes both ways until both sides are done.
func (p *Proxy) blind(client, upstream net.Conn) {
	p.track(upstream)
	defer p.untrack(upstream)
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	go pipe(upstream, client)
	go pipe(client, upstream)
	wg.Wait()
	client.Close()
	upstream.Close()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// Close ends every tunnel; the listener's own shutdown does not reach
// hijacked connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closing = true
	for c := range p.conns {
		c.Close()
	}
	return nil
}

// Tunnels is the number of tunnels open now.
func (p *Proxy) Tunnels() int { return int(p.tunnels.Load()) }

// prefixConn replays bytes read ahead before the rest of the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// oneConnListener hands out one connection, then blocks until it closes,
// so http.Server serves that connection's keep-alive requests and returns.
type oneConnListener struct {
	conn net.Conn
	once sync.Once
	done chan struct{}
	used bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if !l.used {
		l.used = true
		return l.conn, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }
