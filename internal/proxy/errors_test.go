package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

type recordingMetrics struct {
	nopMetrics // the series these tests do not look at
	mu         sync.Mutex
	statuses   []int
	upstream   []string
	signing    []string
	creds      int
	inflight   int
}

func (m *recordingMetrics) ObserveRequest(_, _ string, status int, _ time.Duration) {
	m.mu.Lock()
	m.statuses = append(m.statuses, status)
	m.mu.Unlock()
}
func (m *recordingMetrics) InFlightInc() { m.mu.Lock(); m.inflight++; m.mu.Unlock() }
func (m *recordingMetrics) InFlightDec() { m.mu.Lock(); m.inflight--; m.mu.Unlock() }
func (m *recordingMetrics) SigningError(_, reason string) {
	m.mu.Lock()
	m.signing = append(m.signing, reason)
	m.mu.Unlock()
}
func (m *recordingMetrics) UpstreamError(_, kind string) {
	m.mu.Lock()
	m.upstream = append(m.upstream, kind)
	m.mu.Unlock()
}
func (m *recordingMetrics) CredentialError(string) { m.mu.Lock(); m.creds++; m.mu.Unlock() }

func (m *recordingMetrics) waitStatus(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		for _, s := range m.statuses {
			if s == want {
				m.mu.Unlock()
				return
			}
		}
		m.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no request was recorded with status %d (got %v)", want, m.statuses)
}

// proxyTo builds a proxy in front of an arbitrary target with its own
// transport options, for the failure cases.
// proxyTo is a proxy to target; response is the route's response timeout
// (0: the default).
func proxyTo(t *testing.T, target string, service string, to TransportOptions, creds CredentialsFunc, response time.Duration) (*httptest.Server, *recordingMetrics) {
	t.Helper()
	u, _ := url.Parse(target)
	if creds == nil {
		creds = staticCreds
	}
	tr, err := NewTransport(to)
	if err != nil {
		t.Fatal(err)
	}
	m := &recordingMetrics{}
	p, err := New(Options{Route: &Route{Name: "t", Target: u, Service: service, Region: "us-east-1", Credentials: creds, ResponseTimeout: response}, Transport: tr, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(p)
	t.Cleanup(s.Close)
	return s, m
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestFailuresAreMappedAndExplained(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	noCreds := func(context.Context) (sigv4.Credentials, error) {
		return sigv4.Credentials{}, errors.New("AWS credentials from assume role arn:aws:iam::1:role/x unavailable: AccessDenied")
	}
	tests := []struct {
		name       string
		target     string
		service    string
		to         TransportOptions
		response   time.Duration
		creds      CredentialsFunc
		path       string
		wantStatus int
		wantCode   string
		wantText   string
		wantKind   string
	}{
		{"upstream refuses connections", closedPort(t), "es", TransportOptions{}, 0, nil, "/", 502, "UpstreamUnreachable", "cannot connect", "connect"},
		{"upstream too slow", slow.URL, "es", TransportOptions{}, 200 * time.Millisecond, nil, "/", 504, "UpstreamTimeout", "sent no response headers within 200ms", "timeout"},
		{"no credentials", slow.URL, "es", TransportOptions{}, 0, noCreds, "/", 503, "CredentialsUnavailable", "assume role", ""},
		{"unsignable query", slow.URL, "s3", TransportOptions{}, 0, nil, "/b/k?x=%zz", 400, "MalformedRequest", "percent-escape", ""},
		{"unresolvable host", "http://signway-test.invalid", "es", TransportOptions{}, 0, nil, "/", 502, "UpstreamUnreachable", "cannot connect", "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, m := proxyTo(t, tt.target, tt.service, tt.to, tt.creds, tt.response)
			resp, body := do(t, newRequest(t, http.MethodGet, s.URL+tt.path, nil))
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("X-Signway-Error") != tt.wantCode || !strings.Contains(body, tt.wantText) {
				t.Fatalf("got %d %q %s, want %d %s containing %q", resp.StatusCode, resp.Header.Get("X-Signway-Error"), body, tt.wantStatus, tt.wantCode, tt.wantText)
			}
			if strings.Contains(body, testCreds.SecretAccessKey) || strings.Contains(body, testCreds.SessionToken) {
				t.Fatal("the error body leaks a secret")
			}
			if tt.wantKind != "" && (len(m.upstream) != 1 || m.upstream[0] != tt.wantKind) {
				t.Errorf("upstream error metric = %v, want [%s]", m.upstream, tt.wantKind)
			}
		})
	}
}

// TestConnectTimeoutCoversTLSHandshake: an upstream that accepts the TCP
// connection and then says nothing is a 504 after the connect timeout.
func TestConnectTimeoutCoversTLSHandshake(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // held open, silent
		}
	}()
	s, m := proxyTo(t, "https://"+l.Addr().String(), "es", TransportOptions{ConnectTimeout: 200 * time.Millisecond}, nil, 0)
	start := time.Now()
	resp, body := do(t, newRequest(t, http.MethodGet, s.URL+"/", nil))
	if resp.StatusCode != 504 || !strings.Contains(body, "did not answer in time") {
		t.Fatalf("got %d %s, want 504", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s: the connect timeout did not apply", d)
	}
	if len(m.upstream) != 1 || m.upstream[0] != "timeout" {
		t.Errorf("upstream error metric = %v", m.upstream)
	}
}

func TestS3ErrorsAreXML(t *testing.T) {
	s, _ := proxyTo(t, closedPort(t), "s3", TransportOptions{}, nil, 0)
	resp, body := do(t, newRequest(t, http.MethodGet, s.URL+"/b/k", nil))
	if resp.StatusCode != 502 || resp.Header.Get("Content-Type") != "application/xml" || !strings.Contains(body, "<Code>UpstreamUnreachable</Code>") {
		t.Fatalf("got %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestClientCancellationIs499(t *testing.T) {
	slow, started := hangingUpstream(t)
	s, m := proxyTo(t, slow, "es", TransportOptions{}, nil, 0)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/", nil)
	go func() { <-started; cancel() }()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request should have been cancelled")
	}
	m.waitStatus(t, StatusClientClosedRequest)
}

func TestUpstreamErrorsPassThrough(t *testing.T) {
	// A wrong secret: the upstream's own 403 and its body reach the caller.
	f := newFixture(t, "s3", func(r *Route) {
		r.Credentials = func(context.Context) (sigv4.Credentials, error) {
			c := testCreds
			c.SecretAccessKey = "wrong"
			return c, nil
		}
	})
	resp, body := do(t, newRequest(t, http.MethodGet, f.proxy.URL+"/b/k", nil))
	if resp.StatusCode != 403 || !strings.Contains(body, "signature") {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
}

func TestEventStreamsAreFlushedAsTheyArrive(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "application/vnd.amazon.eventstream"} {
		t.Run(ct, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			f := newFixture(t, "lambda", nil)
			f.backend.handler = func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				w.Write([]byte("event: one\n\n"))
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-time.After(5 * time.Second):
				}
				w.Write([]byte("event: two\n\n"))
			}
			resp, err := http.Get(f.proxy.URL + "/invoke")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || line != "event: one\n" {
				t.Fatalf("first event = %q, %v: it should arrive before the stream ends", line, err)
			}
		})
	}
}
