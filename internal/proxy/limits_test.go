package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
)

// TestKnownOversizeBodyIsRefusedAtOnce: a body that must be hashed and whose
// Content-Length is over the limit is answered 413 before any of it is read;
// the caller sends only its headers and gets the answer.
func TestKnownOversizeBodyIsRefusedAtOnce(t *testing.T) {
	for _, mode := range []config.PayloadMode{config.PayloadSigned, config.PayloadAuto} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFixture(t, "es", func(r *Route) { r.Payload = mode; r.MaxBodyBytes = 1 << 20 })
			u, _ := url.Parse(f.proxy.URL)
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "PUT /index/_doc/1 HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", u.Host, 10<<20)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer while the body is still owed: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("X-Signway-Error") != "RequestEntityTooLarge" {
				t.Errorf("status %d %s, want 413 RequestEntityTooLarge", resp.StatusCode, resp.Header.Get("X-Signway-Error"))
			}
			if n := f.backend.count(); n != 0 {
				t.Errorf("the upstream received %d requests", n)
			}
		})
	}
}

// TestHalfClosedCallerGetsNo499: a caller that half-closes is taken for
// gone; 499 is for logs and metrics, and must not reach the wire, where no
// HTTP client knows it. The connection is closed without an answer.
func TestHalfClosedCallerGetsNo499(t *testing.T) {
	slow, started := hangingUpstream(t)
	s, m := proxyTo(t, slow, "es", TransportOptions{}, nil, 0)
	u, _ := url.Parse(s.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /slow HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host)
	<-started
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(c)
	if len(got) != 0 {
		t.Errorf("the half-closed caller read %.100q, want the connection closed without an answer", got)
	}
	m.waitStatus(t, StatusClientClosedRequest)
}

// TestContentLengthWithTransferEncodingCloses: a request with both is a
// smuggling attempt or a broken client (RFC 9112 6.1): it is answered on its
// Transfer-Encoding, and the connection is closed after it. net/http drops
// the Content-Length before the handler sees it, so every chunked HTTP/1.1
// request closes its connection.
func TestContentLengthWithTransferEncodingCloses(t *testing.T) {
	f := newFixture(t, "es", nil)
	u, _ := url.Parse(f.proxy.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT /index/_doc/1 HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", u.Host)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("status %d, Connection %q: want 200 and the connection closed", resp.StatusCode, resp.Header.Get("Connection"))
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("the connection stayed open after the answer (read %d, %v)", n, err)
	}
}

// hangingUpstream answers nothing until its caller goes away; started is
// closed when the first request reaches it.
func hangingUpstream(t *testing.T) (string, <-chan struct{}) {
	started := make(chan struct{})
	var once sync.Once
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-r.Context().Done()
	}))
	t.Cleanup(slow.Close)
	return slow.URL, started
}
