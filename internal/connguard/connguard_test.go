package connguard

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// serve starts a real server on loopback behind a guard, speaking HTTP/1.1
// and cleartext HTTP/2 (prior knowledge), or HTTP/1.1 and HTTP/2 over TLS.
func serve(t *testing.T, o Options, useTLS bool, h http.Handler) string {
	t.Helper()
	g := New(o)
	t.Cleanup(g.Close)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, ConnState: g.ConnState, Protocols: &p}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if useTLS {
		cert := httptest.NewTLSServer(nil) // for its certificate
		cert.Close()
		srv.TLSConfig = &tls.Config{Certificates: cert.TLS.Certificates, NextProtos: []string{"h2", "http/1.1"}}
		go srv.ServeTLS(g.Listener(ln), "", "")
	} else {
		go srv.Serve(g.Listener(ln))
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// closedWithin reports how long the server took to close c, failing the
// test if it has not within limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	for {
		_, err := c.Read(make([]byte, 512))
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the server kept the connection open for %s", limit)
		}
		return time.Since(start)
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends one HTTP/1.1 request on c and reads its answer.
func get(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestHeaderTimeout(t *testing.T) {
	const header = 300 * time.Millisecond
	addr := serve(t, Options{Header: header, Idle: 5 * time.Second}, false, ok)

	t.Run("a new connection that never finishes its headers", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
		if took := closedWithin(t, c, 3*time.Second); took < header-50*time.Millisecond {
			t.Errorf("closed after %s, before the header timeout of %s", took, header)
		}
	})
	t.Run("a new connection that sends nothing", func(t *testing.T) {
		closedWithin(t, dial(t, addr), 3*time.Second)
	})
	t.Run("a kept-alive connection's next request, cut short", func(t *testing.T) {
		c := dial(t, addr)
		get(t, c, bufio.NewReader(c))
		time.Sleep(2 * header) // idle, well under the idle timeout
		io.WriteString(c, "GET / HTTP/1.1\r\n")
		if took := closedWithin(t, c, 3*time.Second); took < header-50*time.Millisecond {
			t.Errorf("closed after %s, before the header timeout of %s", took, header)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	const idle = 400 * time.Millisecond
	addr := serve(t, Options{Header: 5 * time.Second, Idle: idle}, false, ok)

	t.Run("an idle connection is closed", func(t *testing.T) {
		c := dial(t, addr)
		get(t, c, bufio.NewReader(c))
		if took := closedWithin(t, c, 3*time.Second); took < idle-50*time.Millisecond {
			t.Errorf("closed after %s, before the idle timeout of %s", took, idle)
		}
	})
	t.Run("a busy connection is not", func(t *testing.T) {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		for range 10 { // 1.5 s in all, never idle for as long as the timeout
			get(t, c, br)
			time.Sleep(idle / 3)
		}
	})
	t.Run("an idle HTTP/2 connection is closed, and its pings are not headers", func(t *testing.T) {
		c := dial(t, addr)
		// The preface in two segments: the first read is too short to
		// tell HTTP/2 from HTTP/1.
		io.WriteString(c, http2.ClientPreface[:2])
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, http2.ClientPreface[2:])
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		start := time.Now()
		// Pings at a tenth of the idle timeout: bytes on an idle HTTP/2
		// connection, which must not start the header timeout.
		go func() {
			for range 5 {
				time.Sleep(idle / 10)
				fr.WritePing(false, [8]byte{1})
			}
		}()
		if took := closedWithin(t, c, 3*time.Second); took < idle-50*time.Millisecond {
			t.Errorf("closed after %s, before the idle timeout of %s", took, idle)
		}
		if time.Since(start) > 3*idle {
			t.Errorf("closed after %s, idle timeout %s", time.Since(start), idle)
		}
	})
}

func TestTLS(t *testing.T) {
	const header, idle = 300 * time.Millisecond, 400 * time.Millisecond
	addr := serve(t, Options{Header: header, Idle: idle}, true, ok)
	t.Run("a handshake never finished", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, "\x16\x03\x01") // the start of a ClientHello
		closedWithin(t, c, 3*time.Second)
	})
	for _, proto := range []string{"http/1.1", "h2"} {
		t.Run(proto+" idle after a request", func(t *testing.T) {
			tc := tls.Client(dial(t, addr), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			var conn net.Conn = tc
			if got := tc.ConnectionState().NegotiatedProtocol; got != proto {
				t.Fatalf("negotiated %q, want %q", got, proto)
			}
			if proto == "h2" {
				io.WriteString(conn, http2.ClientPreface)
				http2.NewFramer(conn, conn).WriteSettings()
			} else {
				get(t, conn, bufio.NewReader(conn))
			}
			// Idle, then closed; HTTP/2's settings exchange leaves it idle.
			if took := closedWithin(t, conn, 3*time.Second); took < min(header, idle)-50*time.Millisecond {
				t.Errorf("closed after %s", took)
			}
		})
	}
}

// TestActiveRequestsAreLeftAlone: a request that takes longer than both
// limits is served whole, over HTTP/1.1 and HTTP/2.
func TestActiveRequestsAreLeftAlone(t *testing.T) {
	const limit = 200 * time.Millisecond
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(4 * limit)
		io.WriteString(w, strings.Repeat("x", 10))
	})
	addr := serve(t, Options{Header: limit, Idle: limit}, false, slow)
	for _, h2 := range []bool{false, true} {
		var p http.Protocols
		p.SetHTTP1(!h2)
		p.SetUnencryptedHTTP2(h2)
		client := &http.Client{Transport: &http.Transport{Protocols: &p}}
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("h2=%v: %v", h2, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "xxxxxxxxxx" || (resp.ProtoMajor == 2) != h2 {
			t.Fatalf("h2=%v: got %s %q %v", h2, resp.Proto, b, err)
		}
	}
}
