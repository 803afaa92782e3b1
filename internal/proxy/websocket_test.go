package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/signway/signway/internal/sigv4"
)

// wsUpstream is a WebSocket API (API Gateway with IAM authorization, or
// AWS IoT): it verifies the handshake's signature, then echoes messages.
type wsUpstream struct {
	*httptest.Server
	service string
	mu      sync.Mutex
	header  http.Header
	query   url.Values
	err     error
}

func newWSUpstream(t *testing.T, service string, tokenAfter bool) *wsUpstream {
	u := &wsUpstream{service: service}
	srv := websocket.Server{
		Handshake: func(_ *websocket.Config, r *http.Request) error {
			u.mu.Lock()
			defer u.mu.Unlock()
			u.header, u.query = r.Header.Clone(), r.URL.Query()
			check := r.Clone(r.Context())
			if tokenAfter {
				// IoT: the token follows the signature and is not signed.
				raw := r.URL.RawQuery
				i := strings.Index(raw, "&X-Amz-Security-Token=")
				j := strings.Index(raw, "&X-Amz-Signature=")
				if i < 0 || j < 0 || i > j {
					u.err = errors.New("no X-Amz-Security-Token before the signature, appended after signing")
					return u.err
				}
				if got := r.URL.Query().Get("X-Amz-Security-Token"); got != testCreds.SessionToken {
					u.err = errors.New("the appended token is not the session token")
					return u.err
				}
				u2 := *r.URL
				u2.RawQuery = raw[:i] + raw[j:]
				check.URL = &u2
			}
			creds := testCreds
			if tokenAfter {
				creds.SessionToken = "" // verified above, outside the signature
			}
			_, u.err = sigv4.Verify(check, sigv4.VerifyOptions{Now: time.Now(), Service: service,
				Lookup: func(string) (sigv4.Credentials, error) { return creds, nil }})
			return u.err
		},
		Handler: func(c *websocket.Conn) {
			for {
				var msg string
				if err := websocket.Message.Receive(c, &msg); err != nil {
					return
				}
				websocket.Message.Send(c, "echo: "+msg)
			}
		},
	}
	u.Server = httptest.NewServer(srv)
	t.Cleanup(u.Close)
	return u
}

func TestWebSocket(t *testing.T) {
	for _, tc := range []struct {
		name, service string
		query         bool
		tokenAfter    bool
	}{
		{"API Gateway, header signature", "execute-api", false, false},
		{"API Gateway, query signature", "execute-api", true, false},
		{"AWS IoT, presigned with the token after signing", "iotdevicegateway", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newWSUpstream(t, tc.service, tc.tokenAfter)
			target, _ := url.Parse(up.URL)
			p, err := New(Options{Route: &Route{Name: "ws", Target: target, Service: tc.service, Region: "us-east-1", Credentials: staticCreds, SignQuery: tc.query}})
			if err != nil {
				t.Fatal(err)
			}
			front := httptest.NewServer(p)
			defer front.Close()
			cfg, _ := websocket.NewConfig("ws"+strings.TrimPrefix(front.URL, "http")+"/prod?stage=1", front.URL)
			ws, err := websocket.DialConfig(cfg)
			if err != nil {
				t.Fatalf("handshake through signway: %v (upstream said %v)", err, up.err)
			}
			defer ws.Close()
			for _, msg := range []string{"hello", strings.Repeat("x", 70000)} {
				if err := websocket.Message.Send(ws, msg); err != nil {
					t.Fatal(err)
				}
				var got string
				if err := websocket.Message.Receive(ws, &got); err != nil || got != "echo: "+msg {
					t.Fatalf("echo: %v, %d bytes", err, len(got))
				}
			}
			up.mu.Lock()
			defer up.mu.Unlock()
			if up.header.Get("Upgrade") != "websocket" || !strings.Contains(strings.ToLower(up.header.Get("Connection")), "upgrade") {
				t.Errorf("upgrade headers did not reach the upstream: %v", up.header)
			}
			signed := up.header.Get("Authorization") + up.query.Get("X-Amz-SignedHeaders")
			if strings.Contains(signed, "upgrade") || strings.Contains(signed, "connection") {
				t.Errorf("hop-by-hop upgrade headers were signed: %s", signed)
			}
			if tc.query != (up.query.Get("X-Amz-Signature") != "") {
				t.Errorf("signature placement: query %v, got query %v", tc.query, up.query)
			}
		})
	}
}

// A handshake the upstream refuses reaches the caller as the upstream's answer.
func TestWebSocketRefused(t *testing.T) {
	up := newWSUpstream(t, "execute-api", false)
	target, _ := url.Parse(up.URL)
	bad := func(context.Context) (sigv4.Credentials, error) {
		c := testCreds
		c.SecretAccessKey = "wrong"
		return c, nil
	}
	p, _ := New(Options{Route: &Route{Name: "ws", Target: target, Service: "execute-api", Region: "us-east-1", Credentials: bad}})
	front := httptest.NewServer(p)
	defer front.Close()
	cfg, _ := websocket.NewConfig("ws"+strings.TrimPrefix(front.URL, "http")+"/prod", front.URL)
	if _, err := websocket.DialConfig(cfg); err == nil {
		t.Fatal("a handshake signed with a wrong secret was accepted")
	}
	if up.err == nil {
		t.Fatal("the upstream did not see a bad signature")
	}
}
