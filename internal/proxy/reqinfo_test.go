package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/reqinfo"
	"github.com/signway/signway/internal/testenv"
)

// phaseTracer stands in for internal/telemetry: it records the phases and
// puts a trace context on the upstream request.
type phaseTracer struct{ phases []string }

func (p *phaseTracer) StartPhase(ctx context.Context, ph reqinfo.Phase, h http.Header) (context.Context, func(int, error)) {
	if h != nil {
		h.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		h.Set("Tracestate", "signway=1")
	}
	return ctx, func(status int, err error) {
		p.phases = append(p.phases, ph.String())
	}
}

func TestSigningTransportReportsPhasesAndDebug(t *testing.T) {
	for _, tc := range []struct {
		name, service, method, body string
		edit                        func(*Route)
	}{
		{"header GET", "execute-api", http.MethodGet, "", nil},
		{"query signature", "es", http.MethodGet, "", func(r *Route) { r.SignQuery = true }},
		{"s3 streaming upload", "s3", http.MethodPut, "hello, chunks", func(r *Route) { r.Payload = config.PayloadStreaming }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.service)
			u, _ := url.Parse(b.URL)
			rt := &Route{Name: "dbg", Target: u, Service: tc.service, Region: "us-east-1", Credentials: staticCreds, Debug: true}
			if tc.edit != nil {
				tc.edit(rt)
			}
			logs := &testenv.LockedBuffer{}
			p, err := New(Options{Route: rt, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			clock := time.Unix(1000, 0)
			tr := &phaseTracer{}
			info := &reqinfo.Info{ID: "req-42", Tracer: tr, Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p.ServeHTTP(w, r.WithContext(reqinfo.With(r.Context(), info)))
			}))
			defer srv.Close()
			req := newRequest(t, tc.method, srv.URL+"/bucket/key?api_key=query-api-key", strings.NewReader(tc.body))
			if tc.body == "" {
				req.Body = http.NoBody
			}
			req.Header.Set("Cookie", "session=cookie-secret")
			resp, body := do(t, req)
			got := b.last(t)
			if resp.StatusCode != 200 || got.verifyErr != nil {
				t.Fatalf("status %d %s; backend verify: %v", resp.StatusCode, body, got.verifyErr)
			}
			if got.header.Get("Traceparent") == "" || got.header.Get("Tracestate") != "signway=1" {
				t.Errorf("the trace context did not reach the upstream: %v", got.header)
			}
			if strings.Join(tr.phases, ",") != "credentials,signing,upstream" {
				t.Errorf("phases %v", tr.phases)
			}
			for _, ph := range []reqinfo.Phase{reqinfo.Credentials, reqinfo.Signing, reqinfo.Upstream} {
				if info.Duration(ph) != time.Millisecond {
					t.Errorf("%s took %s on a clock that ticks 1ms per reading", ph, info.Duration(ph))
				}
			}
			if info.Route != "dbg" || info.UpstreamStatus != 200 {
				t.Errorf("route %q, upstream status %d", info.Route, info.UpstreamStatus)
			}
			out := logs.String()
			if !strings.Contains(out, `"msg":"signing debug"`) || !strings.Contains(out, `"request_id":"req-42"`) ||
				!strings.Contains(out, `"canonical_request":"`+tc.method+`\n/bucket/key\n`) {
				t.Fatalf("no signing debug line for this request:\n%s", out)
			}
			if strings.Contains(out, "traceparent;") || strings.Contains(out, ";tracestate") {
				t.Errorf("trace headers were signed:\n%s", out)
			}
			auth := got.header.Get("Authorization")
			_, sig, _ := strings.Cut(auth, "Signature=")
			if q, _ := url.ParseQuery(got.query); sig == "" {
				sig = q.Get("X-Amz-Signature")
			}
			if sig == "" {
				t.Fatal("the backend saw no signature")
			}
			for _, secret := range []string{testCreds.SecretAccessKey, testCreds.SessionToken, sig, "cookie-secret", "query-api-key"} {
				if strings.Contains(out, secret) {
					t.Errorf("the log holds %q:\n%s", secret, out)
				}
			}
		})
	}
}

func TestNoDebugLineWithoutDebug(t *testing.T) {
	b := newBackend(t, "execute-api")
	u, _ := url.Parse(b.URL)
	logs := &testenv.LockedBuffer{}
	p, err := New(Options{Route: &Route{Name: "quiet", Target: u, Service: "execute-api", Region: "us-east-1", Credentials: staticCreds},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	if resp, body := do(t, newRequest(t, http.MethodGet, srv.URL+"/x", nil)); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if strings.Contains(logs.String(), "signing debug") {
		t.Fatalf("debug is off but the signing was logged:\n%s", logs.String())
	}
}

// A handler must not modify the Request it was given: with the record
// already in the context (the gateway's case), the proxy wraps the body on
// a copy of the caller's request, never on the request itself.
func TestProxyLeavesTheCallersRequestAlone(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	p, err := New(Options{Route: &Route{Name: "t", Target: mustURL(t, up.URL), Service: "execute-api", Region: "us-east-1",
		Credentials: staticCreds}, Transport: http.DefaultTransport})
	if err != nil {
		t.Fatal(err)
	}
	for _, withInfo := range []bool{false, true} {
		req := httptest.NewRequest(http.MethodPut, "http://signway.local/x", strings.NewReader("body"))
		if withInfo {
			req = req.WithContext(reqinfo.With(req.Context(), &reqinfo.Info{}))
		}
		body := req.Body
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("record in context %v: status %d: %s", withInfo, w.Code, w.Body)
		}
		if req.Body != body {
			t.Errorf("record in context %v: the caller's request has another body: %T", withInfo, req.Body)
		}
	}
}
