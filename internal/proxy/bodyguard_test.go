package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
			req = guardBody(req)
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
