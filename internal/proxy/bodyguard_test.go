package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// failingBody yields some bytes, then fails as a caller that went away.
type failingBody struct{ n int }

func (b *failingBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), b.n)
	copy(p, strings.Repeat("x", n))
	b.n -= n
	return n, nil
}

func (b *failingBody) Close() error { return nil }

// TestGuardedBodyResetsTheUpstream: through the transport signway uses (all
// its connection wrappers included), a body that fails before its
// Content-Length reaches the upstream as a reset, never as a clean end.
func TestGuardedBodyResetsTheUpstream(t *testing.T) {
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	}))
	t.Cleanup(srv.Close)
	tr, err := NewTransport(TransportOptions{Conns: &UpstreamConns{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	for _, guarded := range []bool{false, true} {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/k", &failingBody{n: 200 << 10})
		req.ContentLength = 1 << 20
		if guarded {
			req, _ = guardBody(req)
		}
		if _, err := tr.RoundTrip(req); err == nil {
			t.Fatal("a failing body was sent")
		}
		select {
		case err := <-got:
			reset := err != nil && !errors.Is(err, io.ErrUnexpectedEOF)
			if reset != guarded {
				t.Errorf("guarded %v: the upstream's read ended with %v", guarded, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the upstream never saw the body end")
		}
	}
}

// lingerZero reports whether c closes with a reset (SO_LINGER on, 0s).
func lingerZero(t *testing.T, c *net.TCPConn) bool {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var l *unix.Linger
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		l, gerr = unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER)
	}); err != nil || gerr != nil {
		t.Fatalf("reading SO_LINGER: %v %v", err, gerr)
	}
	return l.Onoff == 1 && l.Linger == 0
}

// TestGuardHoldsUntilTheAnswer: a body read to its end is not yet sent (the
// transport flushes its buffer after), so the connection keeps resetting
// until the upstream answers, and closes normally after that.
func TestGuardHoldsUntilTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	tr, err := NewTransport(TransportOptions{Conns: &UpstreamConns{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	var conn *net.TCPConn
	wroteLingering := make(chan bool, 1)
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { conn = tcpConn(info.Conn) },
		// Called once the body is read to its end, before the transport's
		// last flush.
		WroteRequest: func(httptrace.WroteRequestInfo) { wroteLingering <- lingerZero(t, conn) },
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/k", io.NopCloser(strings.NewReader(strings.Repeat("x", 100<<10))))
	req.ContentLength = 100 << 10
	req, guard := guardBody(req)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !<-wroteLingering {
		t.Error("the connection closed normally once the body was read, before it was all sent")
	}
	guard.answered()
	if lingerZero(t, conn) {
		t.Error("the connection still resets after the upstream answered: a kept connection would be reset")
	}
}
