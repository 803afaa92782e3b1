package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// An HTTP/2 upstream that allows 2 streams per connection: 6 requests at
// once must be spread over at least 3 connections (none waits for a
// stream), and the counts must say so while they are in flight and return
// to zero after.
func TestUpstreamConnsHTTP2Saturation(t *testing.T) {
	const streamsPerConn, requests = 2, 6
	started := make(chan struct{}, requests)
	release := make(chan struct{})
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			t.Errorf("upstream got %s, want HTTP/2", r.Proto)
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush() // headers now: the stream is in flight
		started <- struct{}{}
		<-release
		io.WriteString(w, "done")
	}))
	up.EnableHTTP2 = true
	up.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: streamsPerConn}
	up.StartTLS()
	defer up.Close()

	conns := &UpstreamConns{}
	tr, err := NewTransport(TransportOptions{InsecureSkipVerify: true, Conns: conns})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	target, _ := url.Parse(up.URL)
	p, err := New(Options{Route: &Route{Name: "h2", Target: target, Service: "execute-api", Region: "us-east-1", Credentials: staticCreds},
		Transport: tr, Conns: conns})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()

	var wg sync.WaitGroup
	bodies := make(chan string, requests)
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(front.URL + "/x")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies <- string(b)
		}()
	}
	for i := range requests {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d requests reached the upstream: the transport queued them on a full connection", i, requests)
		}
	}
	// The upstream has sent each stream's headers; signway counts a stream
	// once its transport hands the response over, a moment later.
	waitFor(t, func() bool { return conns.InFlight(true) == requests },
		func() string {
			return fmt.Sprintf("HTTP/2 streams in flight = %d, want %d", conns.InFlight(true), requests)
		})
	if got := conns.Open(); got < requests/streamsPerConn {
		t.Errorf("open connections = %d, want at least %d for %d streams at %d per connection", got, requests/streamsPerConn, requests, streamsPerConn)
	}
	close(release)
	wg.Wait()
	close(bodies)
	for b := range bodies {
		if b != "done" {
			t.Errorf("body %q", b)
		}
	}
	// The proxy closes each upstream body before its handler returns, and
	// the caller saw the whole body only after that.
	if got := conns.InFlight(true); got != 0 {
		t.Errorf("streams in flight after the responses = %d", got)
	}
	opened := conns.Opened()
	tr.CloseIdleConnections()
	front.Close()
	if opened < requests/streamsPerConn {
		t.Errorf("connections opened = %d", opened)
	}
}

// waitFor polls cond until it holds, failing with msg after 10 s.
func waitFor(t *testing.T, cond func() bool, msg func() string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
	}
}
