package authz

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// recorder is a Decider that remembers what it was asked and answers
// with a fixed decision.
type recorder struct {
	mu     sync.Mutex
	method string
	url    string // scheme://host + path as the gateway sends it (RawPath kept)
	host   string
	header http.Header
	body   string
	answer Decision
}

func (r *recorder) Decide(req *http.Request) Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.method, r.host, r.header = req.Method, req.Host, req.Header.Clone()
	r.url = req.URL.Scheme + "://" + req.URL.Host + req.URL.RequestURI()
	r.body = ""
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		r.body = string(b)
	}
	return r.answer
}

var signed = Decision{Status: http.StatusOK, Header: http.Header{
	"Authorization": {"AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"},
	"X-Amz-Date":    {"20261201T120000Z"},
	"Host":          {"bucket.s3.us-east-1.amazonaws.com"},
}}

func TestHTTPCheck(t *testing.T) {
	tests := []struct {
		name       string
		opts       HTTPOptions
		method     string
		target     string
		header     map[string]string
		body       string
		answer     Decision
		wantStatus int
		wantURL    string // "" when the decider must not be asked
		wantMethod string
		wantBody   string
		wantHeader map[string]string // in the answer
		wantText   string            // in the answer's body
	}{
		{name: "forward-auth form (Traefik, Caddy, nginx)", method: "GET", target: "/check",
			header: map[string]string{"X-Forwarded-Method": "PUT", "X-Forwarded-Uri": "/photos/a%20b%2Bc.jpg?versionId=1", "X-Forwarded-Host": "gw.example", "Api-Key": "k1"},
			answer: signed, wantStatus: 200, wantURL: "https://gw.example/photos/a%20b%2Bc.jpg?versionId=1", wantMethod: "PUT",
			wantHeader: map[string]string{"Authorization": signed.Header.Get("Authorization"), "X-Amz-Date": "20261201T120000Z", "Host": "bucket.s3.us-east-1.amazonaws.com"}},
		{name: "forward-auth form over http", method: "GET", target: "/",
			header: map[string]string{"X-Forwarded-Uri": "/k", "X-Forwarded-Host": "gw.example", "X-Forwarded-Proto": "http"},
			answer: signed, wantStatus: 200, wantURL: "http://gw.example/k", wantMethod: "GET"},
		{name: "Envoy HTTP form with a path prefix", opts: HTTPOptions{EnvoyPathPrefix: "/authz"}, method: "DELETE", target: "/authz/bucket/key?x=1",
			answer: signed, wantStatus: 200, wantURL: "https://example.com/bucket/key?x=1", wantMethod: "DELETE"},
		{name: "Envoy form with the whole body", method: "POST", target: "/items", body: `{"a":1}`,
			answer: signed, wantStatus: 200, wantURL: "https://example.com/items", wantMethod: "POST", wantBody: `{"a":1}`},
		{name: "Envoy form with a partial body is not hashed", method: "POST", target: "/items", body: `{"a":`,
			header: map[string]string{"X-Envoy-Auth-Partial-Body": "true"},
			answer: signed, wantStatus: 200, wantURL: "https://example.com/items", wantMethod: "POST", wantBody: ""},
		{name: "denied as the proxy would", method: "GET", target: "/check",
			header:     map[string]string{"X-Forwarded-Uri": "/k", "X-Forwarded-Host": "gw.example"},
			answer:     Decision{Status: 401, Header: http.Header{"Www-Authenticate": {`ApiKey header="api-key"`}}, Body: []byte("no API key\n")},
			wantStatus: 401, wantURL: "https://gw.example/k", wantMethod: "GET",
			wantHeader: map[string]string{"Www-Authenticate": `ApiKey header="api-key"`}, wantText: "no API key"},
		{name: "Envoy path outside the prefix", opts: HTTPOptions{EnvoyPathPrefix: "/authz"}, method: "GET", target: "/other/k",
			answer: signed, wantStatus: 400, wantText: `does not start with the configured Envoy path prefix "/authz"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: tc.answer}
			srv := httptest.NewServer(NewHTTPHandler(rec, tc.opts))
			defer srv.Close()
			req, _ := http.NewRequest(tc.method, srv.URL+tc.target, strings.NewReader(tc.body))
			if tc.body == "" {
				req.Body = nil
			}
			req.Host = "example.com"
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tc.wantStatus, got)
			}
			if !strings.Contains(string(got), tc.wantText) {
				t.Errorf("body %q does not say %q", got, tc.wantText)
			}
			for k, v := range tc.wantHeader {
				if resp.Header.Get(k) != v {
					t.Errorf("answer header %s = %q, want %q", k, resp.Header.Get(k), v)
				}
			}
			if tc.wantURL == "" {
				if rec.method != "" {
					t.Errorf("the decider was asked about a malformed check")
				}
				return
			}
			if rec.url != tc.wantURL || rec.method != tc.wantMethod || rec.body != tc.wantBody {
				t.Errorf("decider saw %s %s body %q, want %s %s body %q", rec.method, rec.url, rec.body, tc.wantMethod, tc.wantURL, tc.wantBody)
			}
			for _, k := range []string{"X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Envoy-Auth-Partial-Body"} {
				if rec.header.Get(k) != "" {
					t.Errorf("the described request kept the check's %s", k)
				}
			}
			if v, ok := tc.header["Api-Key"]; ok && rec.header.Get("Api-Key") != v {
				t.Errorf("the caller's api-key did not reach the decider")
			}
		})
	}
}

func TestGRPCCheck(t *testing.T) {
	rec := &recorder{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewGRPCServer(rec)
	go srv.Serve(l)
	defer srv.Stop()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	ctx := context.Background()

	check := func(http *authv3.AttributeContext_HttpRequest) *authv3.CheckResponse {
		t.Helper()
		resp, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: http}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	t.Run("allowed: headers overwrite", func(t *testing.T) {
		rec.answer = signed
		resp := check(&authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/photos/%C3%A9t%C3%A9.jpg?list-type=2", Host: "gw.example",
			Headers: map[string]string{":authority": "gw.example", "api-key": "k1"}})
		if codes.Code(resp.GetStatus().GetCode()) != codes.OK || resp.GetOkResponse() == nil {
			t.Fatalf("response %v", resp)
		}
		got := map[string]string{}
		for _, h := range resp.GetOkResponse().GetHeaders() {
			if h.GetAppendAction().String() != "OVERWRITE_IF_EXISTS_OR_ADD" {
				t.Errorf("%s appends (%v): a caller's own header would survive", h.GetHeader().GetKey(), h.GetAppendAction())
			}
			got[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		if got["authorization"] != signed.Header.Get("Authorization") || got["x-amz-date"] != "20261201T120000Z" || got["host"] != "bucket.s3.us-east-1.amazonaws.com" {
			t.Errorf("headers %v", got)
		}
		if rec.url != "https://gw.example/photos/%C3%A9t%C3%A9.jpg?list-type=2" || rec.header.Get("Api-Key") != "k1" || rec.header.Get(":authority") != "" {
			t.Errorf("decider saw %s with %v", rec.url, rec.header)
		}
	})
	t.Run("body forwarded whole", func(t *testing.T) {
		rec.answer = signed
		check(&authv3.AttributeContext_HttpRequest{Method: "POST", Path: "/fn", Host: "h", RawBody: []byte("payload"), Size: 7})
		if rec.body != "payload" {
			t.Errorf("body %q", rec.body)
		}
		check(&authv3.AttributeContext_HttpRequest{Method: "POST", Path: "/fn", Host: "h", RawBody: []byte("pay"), Size: 7})
		if rec.body != "" {
			t.Errorf("a truncated body (3 of 7 bytes) reached the decider: %q", rec.body)
		}
	})
	t.Run("denied", func(t *testing.T) {
		rec.answer = Decision{Status: 429, Header: http.Header{"Retry-After": {"2"}}, Body: []byte("slow down")}
		resp := check(&authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/k", Host: "h"})
		d := resp.GetDeniedResponse()
		if codes.Code(resp.GetStatus().GetCode()) != codes.PermissionDenied || d == nil || d.GetStatus().GetCode() != 429 || d.GetBody() != "slow down" {
			t.Fatalf("response %v", resp)
		}
		if len(d.GetHeaders()) != 1 || d.GetHeaders()[0].GetHeader().GetKey() != "retry-after" {
			t.Errorf("denied headers %v", d.GetHeaders())
		}
		rec.answer = Decision{Status: 401, Body: []byte("who are you")}
		if c := codes.Code(check(&authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/k", Host: "h"}).GetStatus().GetCode()); c != codes.Unauthenticated {
			t.Errorf("401 maps to %v, want Unauthenticated", c)
		}
	})
	t.Run("not an HTTP check", func(t *testing.T) {
		rec.method = ""
		resp := check(nil)
		if resp.GetDeniedResponse().GetStatus().GetCode() != 400 || !strings.Contains(resp.GetDeniedResponse().GetBody(), "no HTTP method and path") {
			t.Fatalf("response %v", resp)
		}
		if rec.method != "" {
			t.Error("the decider was asked about an empty check")
		}
	})
	t.Run("health", func(t *testing.T) {
		for _, svc := range []string{"", "envoy.service.auth.v3.Authorization"} {
			h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health of %q: %v %v", svc, h, err)
			}
		}
	})
}
