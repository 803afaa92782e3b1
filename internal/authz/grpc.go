package authz

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// NewGRPCServer returns a gRPC server answering
// envoy.service.auth.v3.Authorization/Check with d's decisions, and the
// standard grpc.health.v1 service (SERVING) for the gateway's health checks.
func NewGRPCServer(d Decider, opts ...grpc.ServerOption) *grpc.Server {
	s := grpc.NewServer(opts...)
	authv3.RegisterAuthorizationServer(s, &checkServer{d: d})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	return s
}

type checkServer struct {
	authv3.UnimplementedAuthorizationServer
	d Decider
}

// Check answers one ext_authz check. A check that does not describe an
// HTTP request is a denial (400), not a gRPC error, so that Envoy answers
// the caller with the reason rather than failing closed with a bare 403.
func (s *checkServer) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	orig, err := describeCheck(ctx, req)
	if err != nil {
		return checkResponse(badCheck(err)), nil
	}
	return checkResponse(s.d.Decide(orig)), nil
}

// describeCheck rebuilds the original request from Envoy's attributes.
func describeCheck(ctx context.Context, req *authv3.CheckRequest) (*http.Request, error) {
	hr := req.GetAttributes().GetRequest().GetHttp()
	if hr == nil || hr.GetMethod() == "" || hr.GetPath() == "" {
		return nil, fmt.Errorf("the check request carries no HTTP method and path (attributes.request.http)")
	}
	u, err := url.ParseRequestURI(hr.GetPath())
	if err != nil {
		return nil, fmt.Errorf("the original path %q is not a request path: %w", hr.GetPath(), err)
	}
	u.Scheme, u.Host = "https", hr.GetHost()
	if hr.GetScheme() == "http" {
		u.Scheme = "http"
	}
	orig, err := http.NewRequestWithContext(ctx, hr.GetMethod(), u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("the original method %q or host %q is not valid: %w", hr.GetMethod(), hr.GetHost(), err)
	}
	orig.URL, orig.Host = u, hr.GetHost()
	orig.Header = http.Header{}
	add := func(k, v string) {
		// HTTP/2 pseudo-headers (:authority, :path...) are in the fields above.
		if !strings.HasPrefix(k, ":") {
			orig.Header.Add(k, v)
		}
	}
	for k, v := range hr.GetHeaders() {
		add(k, v)
	}
	for _, hv := range hr.GetHeaderMap().GetHeaders() {
		v := hv.GetValue()
		if v == "" {
			v = string(hv.GetRawValue())
		}
		add(hv.GetKey(), v)
	}
	body := hr.GetRawBody()
	if len(body) == 0 && hr.GetBody() != "" {
		body = []byte(hr.GetBody())
	}
	partial := orig.Header.Get(hdrPartialBody) == "true"
	orig.Header.Del(hdrPartialBody)
	if len(body) > 0 && !partial && (hr.GetSize() < 0 || hr.GetSize() == int64(len(body))) {
		orig.Body, orig.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	return orig, nil
}

func checkResponse(d Decision) *authv3.CheckResponse {
	headers := headerOptions(d.Header)
	if d.Allowed() {
		return &authv3.CheckResponse{
			Status:       &rpcstatus.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: headers}},
		}
	}
	code := codes.PermissionDenied
	if d.Status == http.StatusUnauthorized {
		code = codes.Unauthenticated
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: http.StatusText(d.Status)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(d.Status)},
			Headers: headers,
			Body:    string(d.Body),
		}},
	}
}

// headerOptions overwrite: a caller's own Authorization or X-Amz-Date must
// not survive next to signway's.
func headerOptions(h http.Header) []*corev3.HeaderValueOption {
	var out []*corev3.HeaderValueOption
	for k, vv := range h {
		for _, v := range vv {
			out = append(out, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: strings.ToLower(k), Value: v},
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			})
		}
	}
	return out
}
