package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
)

// rawPut sends a PUT on its own connection, writing body in the background
// (a proxy may answer before reading it all), and returns the response.
func rawPut(t *testing.T, addr, path string, length int64, body io.Reader) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", path, addr, length)
		io.Copy(c, body) // fails once the proxy gives up: expected
	}()
	c.SetReadDeadline(time.Now().Add(60 * time.Second)) // a hung proxy fails, never hangs, the test
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// stallingReader yields n bytes, then blocks until the test ends.
type stallingReader struct {
	n    int
	done <-chan struct{}
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		<-r.done
		return 0, io.EOF
	}
	m := min(len(p), r.n)
	clear(p[:m])
	r.n -= m
	return m, nil
}

func stallAfter(t *testing.T, n int) io.Reader {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return &stallingReader{n: n, done: done}
}

// TestStalledCallerBodyIs408 is issue 12 item 5: a caller that stops
// sending its body is answered 408 after timeouts.body_idle on every
// payload path, instead of being held forever.
func TestStalledCallerBodyIs408(t *testing.T) {
	for _, mode := range []config.PayloadMode{config.PayloadSigned, config.PayloadUnsigned, config.PayloadStreaming} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFixture(t, "s3", func(r *Route) { r.Payload = mode; r.BodyIdleTimeout = 200 * time.Millisecond })
			resp := rawPut(t, strings.TrimPrefix(f.proxy.URL, "http://"), "/bucket/key", 100_000, stallAfter(t, 1000))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-Signway-Error") != "RequestTimeout" {
				t.Fatalf("status %d %s: %s; want 408 RequestTimeout", resp.StatusCode, resp.Header.Get("X-Signway-Error"), body)
			}
			if !strings.Contains(string(body), "timeouts.body_idle") {
				t.Errorf("the message does not name the setting: %s", body)
			}
			f.backend.mu.Lock()
			defer f.backend.mu.Unlock()
			for _, got := range f.backend.got {
				if got.verifyErr == nil {
					t.Errorf("the upstream completed a request from the stalled body (%d bytes)", len(got.body))
				}
			}
		})
	}
}

// neverReads is an upstream that takes a request's headers and then never
// reads its body nor answers, until the test ends.
func neverReads(t *testing.T) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				<-done
			}()
		}
	}()
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

// zeros is an endless body that costs no memory.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestUpstreamThatNeverReadsIs504 is issue 12 item 5: an upstream that
// accepts a PUT and never reads it must not hold the request (the
// response-header timeout only starts once the body is sent).
func TestUpstreamThatNeverReadsIs504(t *testing.T) {
	// More than loopback socket buffers hold, so the transport blocks.
	const size = 48 << 20
	for _, mode := range []config.PayloadMode{config.PayloadSigned, config.PayloadUnsigned, config.PayloadStreaming} {
		t.Run(string(mode), func(t *testing.T) {
			tr, err := NewTransport(TransportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rt := &Route{Name: "test", Target: neverReads(t), Service: "s3", Region: "us-east-1", Credentials: staticCreds,
				Payload: mode, BodyIdleTimeout: 300 * time.Millisecond, ResponseTimeout: time.Hour, SpoolDir: t.TempDir()}
			p, err := New(Options{Route: rt, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			srv, _ := stallServer(t, p)
			resp := rawPut(t, srv.Listener.Addr().String(), "/bucket/key", size, io.LimitReader(zeros{}, size))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "timeouts.body_idle") {
				t.Fatalf("status %d: %s; want 504 naming timeouts.body_idle", resp.StatusCode, body)
			}
		})
	}
}

// TestStalledCallerBodyIs408OverHTTP2: the deadline is set through
// http.ResponseController, which HTTP/2 streams support too.
func TestStalledCallerBodyIs408OverHTTP2(t *testing.T) {
	b := newBackend(t, "es")
	rt := &Route{Name: "h2", Target: mustURL(t, b.URL), Service: "es", Region: "us-east-1", Credentials: staticCreds,
		BodyIdleTimeout: 200 * time.Millisecond}
	p, err := New(Options{Route: rt})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(p)
	s.EnableHTTP2 = true
	s.StartTLS()
	defer s.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte(`{"partial":`)) // and then nothing
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/idx/_doc", pr)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("%s %d: %s; want HTTP/2 408", resp.Proto, resp.StatusCode, body)
	}
}
