package telemetry

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/signway/signway/internal/accesslog"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

// receiver is an OTLP/HTTP collector: it decodes every export the way a
// real collector does and keeps the spans.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	resource map[string]string
	paths    []string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{resource: map[string]string{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &req)
		}
		if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("undecodable export (%s): %v", r.Header.Get("Content-Type"), err)
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.paths = append(rc.paths, r.URL.Path)
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.GetResource().GetAttributes() {
				rc.resource[kv.Key] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) byName() map[string]*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := map[string]*tracepb.Span{}
	for _, s := range rc.spans {
		m[s.Name] = s
	}
	return m
}

func attr(s *tracepb.Span, key string) *commonpb.AnyValue {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// upstream verifies each signature as AWS would and keeps the headers.
type upstream struct {
	*httptest.Server
	mu     sync.Mutex
	header http.Header
	err    error
}

var creds = sigv4.Credentials{AccessKeyID: "AKIDTRACE", SecretAccessKey: "trace-secret"}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := sigv4.Verify(r, sigv4.VerifyOptions{Now: time.Now(), Service: "execute-api",
			Lookup: func(string) (sigv4.Credentials, error) { return creds, nil }})
		u.mu.Lock()
		u.header, u.err = r.Header.Clone(), err
		u.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// chain is the gateway's order: tracing, then the access log, then the proxy.
func chain(t *testing.T, tr *Tracing, up *upstream) *httptest.Server {
	target, _ := url.Parse(up.URL)
	p, err := proxy.New(proxy.Options{Route: &proxy.Route{Name: "api", Target: target, Service: "execute-api", Region: "eu-west-1",
		Credentials: func(context.Context) (sigv4.Credentials, error) { return creds, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(tr.Handler(accesslog.Handler(p, accesslog.Options{})))
	t.Cleanup(s.Close)
	return s
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSpansPerRequestContinueTheCallersTrace(t *testing.T) {
	rc := newReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rc.URL)
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	tr, err := FromEnv(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rc.URL}), "v1.2.3")
	if err != nil || tr == nil {
		t.Fatalf("tracing did not start: %v", err)
	}
	up := newUpstream(t)
	srv := chain(t, tr, up)

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/orders?id=7", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	req.Header.Set("Tracestate", "vendor=abc")
	req.Header.Set("X-Request-Id", "trace-req-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s (upstream: %v)", resp.StatusCode, body, up.err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	spans := rc.byName()
	server, creds, signing, upstreamSpan := spans["GET api"], spans["credentials"], spans["signing"], spans["upstream"]
	if server == nil || creds == nil || signing == nil || upstreamSpan == nil || len(spans) != 4 {
		t.Fatalf("want the spans GET api, credentials, signing, upstream; got %v", keys(spans))
	}
	for name, s := range spans {
		if hex.EncodeToString(s.TraceId) != traceID {
			t.Errorf("%s is in trace %x, not the caller's %s", name, s.TraceId, traceID)
		}
	}
	if hex.EncodeToString(server.ParentSpanId) != callerSpan || server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("the request span's parent is %x (kind %v), want the caller's %s", server.ParentSpanId, server.Kind, callerSpan)
	}
	for _, child := range []*tracepb.Span{creds, signing, upstreamSpan} {
		if string(child.ParentSpanId) != string(server.SpanId) {
			t.Errorf("%s is not a child of the request span", child.Name)
		}
		if child.StartTimeUnixNano < server.StartTimeUnixNano || child.EndTimeUnixNano > server.EndTimeUnixNano {
			t.Errorf("%s lies outside the request span", child.Name)
		}
	}
	if upstreamSpan.Kind != tracepb.Span_SPAN_KIND_CLIENT || attr(upstreamSpan, "http.response.status_code").GetIntValue() != 200 {
		t.Errorf("upstream span: kind %v, attributes %v", upstreamSpan.Kind, upstreamSpan.Attributes)
	}
	if attr(server, "signway.route").GetStringValue() != "api" || attr(server, "signway.request_id").GetStringValue() != "trace-req-1" ||
		attr(server, "http.response.status_code").GetIntValue() != 200 || attr(server, "http.request.method").GetStringValue() != "GET" {
		t.Errorf("request span attributes: %v", server.Attributes)
	}
	if rc.resource["service.name"] != "signway" || rc.resource["service.version"] != "v1.2.3" || rc.resource["deployment.environment.name"] != "test" {
		t.Errorf("resource %v", rc.resource)
	}
	if rc.paths[0] != "/v1/traces" {
		t.Errorf("exported to %s", rc.paths[0])
	}

	// The upstream got the trace continued from the upstream span, unsigned.
	up.mu.Lock()
	defer up.mu.Unlock()
	if want := "00-" + traceID + "-" + hex.EncodeToString(upstreamSpan.SpanId) + "-01"; up.header.Get("Traceparent") != want {
		t.Errorf("upstream traceparent %q, want %q", up.header.Get("Traceparent"), want)
	}
	if up.header.Get("Tracestate") != "vendor=abc" {
		t.Errorf("upstream tracestate %q", up.header.Get("Tracestate"))
	}
	_, signed, _ := strings.Cut(up.header.Get("Authorization"), "SignedHeaders=")
	if signed == "" || strings.Contains(signed, "traceparent") || strings.Contains(signed, "tracestate") {
		t.Errorf("signed headers %q must not include the trace context", signed)
	}
}

func TestARequestWithoutTraceStartsOne(t *testing.T) {
	rc := newReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", rc.URL+"/v1/traces")
	tr, err := FromEnv(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rc.URL + "/v1/traces"}), "dev")
	if err != nil || tr == nil {
		t.Fatalf("tracing did not start: %v", err)
	}
	up := newUpstream(t)
	srv := chain(t, tr, up)
	resp, err := http.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.Shutdown(context.Background())
	spans := rc.byName()
	server := spans["GET api"]
	if server == nil || len(server.ParentSpanId) != 0 {
		t.Fatalf("want a root request span; got %v", keys(spans))
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if !strings.HasPrefix(up.header.Get("Traceparent"), "00-"+hex.EncodeToString(server.TraceId)+"-") {
		t.Errorf("upstream traceparent %q is not in the new trace", up.header.Get("Traceparent"))
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr string
	}{
		{"no endpoint: off", map[string]string{}, false, ""},
		{"disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, false, ""},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false, ""},
		{"endpoint: on", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, ""},
		{"traces endpoint: on", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true, ""},
		{"grpc refused", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false,
			`OTEL_EXPORTER_OTLP_PROTOCOL="grpc": signway sends OTLP over HTTP; set http/protobuf`},
		{"zipkin refused", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "zipkin"}, false,
			`OTEL_TRACES_EXPORTER="zipkin": signway exports traces with otlp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := FromEnv(context.Background(), env(tt.env), "dev")
			defer tr.Shutdown(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || (tr != nil) != tt.on {
				t.Fatalf("tracing on = %v (err %v), want %v", tr != nil, err, tt.on)
			}
		})
	}
}

func TestEndpointMasksAPassword(t *testing.T) {
	tr := &Tracing{endpoint: "https://user:hunter2@collector.example:4318"}
	if got := tr.Endpoint(); strings.Contains(got, "hunter2") || !strings.Contains(got, "collector.example:4318") {
		t.Fatalf("Endpoint() = %q", got)
	}
}

func TestOffIsTheHandlerItself(t *testing.T) {
	var tr *Tracing
	h := http.NotFoundHandler()
	if got := tr.Handler(h); got == nil || tr.Endpoint() != "" || tr.Shutdown(context.Background()) != nil {
		t.Fatal("a nil Tracing must be a no-op")
	}
	rec := httptest.NewRecorder()
	tr.Handler(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("the wrapped handler did not run: %d", rec.Code)
	}
}

func keys(m map[string]*tracepb.Span) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMalformedResourceAttributesAreAnError(t *testing.T) {
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "team")
	tr, err := FromEnv(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}), "dev")
	defer tr.Shutdown(context.Background())
	if err == nil || !strings.Contains(err.Error(), "OTEL_RESOURCE_ATTRIBUTES") {
		t.Fatalf("err = %v, want one naming OTEL_RESOURCE_ATTRIBUTES", err)
	}
}
