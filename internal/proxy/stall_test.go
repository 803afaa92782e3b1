package proxy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/sigv4"
	"github.com/signway/signway/internal/testenv"
)

// countingListener counts the bytes the server has read from its callers,
// so a test can wait until the proxy has taken what the callers sent
// (kernel buffers would otherwise hide whether it has).
type countingListener struct {
	net.Listener
	read atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.read}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// stallServer serves h on loopback behind a countingListener.
func stallServer(t *testing.T, h http.Handler) (*httptest.Server, *countingListener) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	cl := &countingListener{Listener: s.Listener}
	s.Listener = cl
	s.Start()
	t.Cleanup(s.Close)
	return s, cl
}

// stalledUpload opens a raw connection, declares length bytes and sends
// only the first len(sent) of them.
func stalledUpload(t *testing.T, addr, path string, length int, sent []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", path, addr, length)
	if _, err := c.Write(sent); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitUntil polls cond until it holds; the deadline only stops a hung test.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// liveBytes is the memory the Go runtime holds for live objects and
// goroutine stacks after a full collection: what stalled requests cost.
func liveBytes() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// rss is the process's resident set (Linux; 0 elsewhere). It is logged, not
// asserted: the runtime keeps freed pages, so it lags the heap.
func rss() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb << 10
		}
	}
	return 0
}

// TestStalledUploadsHoldLittleMemory is issue 12's measurement: 100 uploads
// that stop after 1.2 MB of a 3 MB body, on every payload path, must add at
// most 64 MiB (and at most 256 KiB each) to the process, which here holds
// the callers' side and the upstream too. It waits on byte counts, never on
// time.
func TestStalledUploadsHoldLittleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 100 connections per payload mode")
	}
	const uploads, sent, declared = 100, 1_200_000, 3_000_000
	part := bytes.Repeat([]byte("x"), sent)
	for _, mode := range []config.PayloadMode{config.PayloadSigned, config.PayloadUnsigned, config.PayloadStreaming} {
		t.Run(string(mode), func(t *testing.T) {
			// The upstream is another process, so what is measured is the
			// proxy (the callers are bare sockets).
			s3 := testenv.Versitygw(t)
			s3.CreateBucket(t, "bucket")
			u, _ := url.Parse(s3.Endpoint)
			creds := func(context.Context) (sigv4.Credentials, error) {
				return sigv4.Credentials{AccessKeyID: s3.AccessKeyID, SecretAccessKey: s3.SecretAccessKey}, nil
			}
			dir := t.TempDir()
			tr, err := NewTransport(TransportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.CloseIdleConnections()
			rt := &Route{Name: "stall", Target: u, Service: "s3", Region: s3.Region, Credentials: creds,
				Payload: mode, SpoolDir: dir}
			p, err := New(Options{Route: rt, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			srv, cl := stallServer(t, p)
			addr := srv.Listener.Addr().String()

			before, rssBefore := liveBytes(), rss()
			conns := make([]net.Conn, uploads)
			for i := range conns {
				conns[i] = stalledUpload(t, addr, fmt.Sprintf("/bucket/key%d", i), declared, part)
			}
			waitUntil(t, "the proxy to read what the callers sent", func() bool { return cl.read.Load() >= uploads*sent })
			added := liveBytes() - before
			t.Logf("%d uploads stalled after %d bytes: %.1f MiB in all, %.0f KiB each (RSS %+.1f MiB)",
				uploads, sent, float64(added)/(1<<20), float64(added)/uploads/1024, float64(rss()-rssBefore)/(1<<20))
			if added > 64<<20 || added/uploads > 256<<10 {
				t.Errorf("stalled uploads hold %d bytes (%d each); want at most 64 MiB, 256 KiB each", added, added/uploads)
			}
			for _, c := range conns {
				c.Close()
			}
			waitUntil(t, "spool files to go", func() bool {
				ents, _ := os.ReadDir(dir)
				return len(ents) == 0
			})
			// Nothing cut short was stored.
			if status, _ := s3.Do(t, http.MethodHead, "/bucket/key0", nil); status != http.StatusNotFound {
				t.Errorf("HEAD of an upload that stalled and was abandoned: %d, want 404", status)
			}
		})
	}
}
