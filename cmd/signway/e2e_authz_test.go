package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/signway/signway/internal/testenv"
)

// Signing as a service: a gateway people already run proxies the traffic
// and asks signway only for the headers to set.

const authzAPIKey = "gloo-style-api-key-000111"

type authzEnv struct {
	s3                 *testenv.S3
	httpAddr, grpcAddr string
	logs               *testenv.LockedBuffer
}

func newAuthzEnv(t *testing.T) *authzEnv {
	t.Helper()
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "authz")
	t.Setenv("REPORTING_API_KEY", authzAPIKey)
	e := &authzEnv{s3: s3, httpAddr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), grpcAddr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	cfg := writeConfig(t, fmt.Sprintf(`listen: {address: 127.0.0.1:%d}
utility: {address: 127.0.0.1:%d}
authz:
  http_address: %s
  grpc_address: %s
callers:
  - id: reporting
    api_keys: ["${REPORTING_API_KEY}"]
routes:
  - name: data
    url: %s
    service: s3
    region: %s
    credentials: {source: env}
    auth: {methods: [api_key], api_key_header: api-key}
`, testenv.FreePort(t), testenv.FreePort(t), e.httpAddr, e.grpcAddr, s3.Endpoint, s3.Region))
	_, _, _, _, e.logs = startRunAs(t, s3.AccessKeyID, s3.SecretAccessKey, "--config", cfg)
	if err := testenv.TCPReady(e.grpcAddr)(); err != nil {
		t.Fatalf("the authz gRPC listener: %v\n%s", err, e.logs.String())
	}
	return e
}

// startNginx runs Debian's nginx with auth_request in front of versitygw.
func startNginx(t *testing.T, e *authzEnv) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, serr := os.Stat(bin); serr != nil {
			testenv.Require(t, "nginx (apt-get install nginx-light)", err)
		}
	}
	dir := t.TempDir()
	port := testenv.FreePort(t)
	upstream := strings.TrimPrefix(e.s3.Endpoint, "http://")
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  client_max_body_size 64m;
  server {
    listen 127.0.0.1:%[2]d;
    location / {
      auth_request /_signway;
      auth_request_set $sw_auth $upstream_http_authorization;
      auth_request_set $sw_date $upstream_http_x_amz_date;
      auth_request_set $sw_sha $upstream_http_x_amz_content_sha256;
      auth_request_set $sw_token $upstream_http_x_amz_security_token;
      auth_request_set $sw_host $upstream_http_host;
      proxy_set_header Authorization $sw_auth;
      proxy_set_header X-Amz-Date $sw_date;
      proxy_set_header X-Amz-Content-Sha256 $sw_sha;
      proxy_set_header X-Amz-Security-Token $sw_token;
      proxy_set_header Host $sw_host;
      proxy_set_header api-key "";
      proxy_pass http://%[3]s;
    }
    location = /_signway {
      internal;
      proxy_pass http://%[4]s/check;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto http;
    }
  }
}
`, dir, port, upstream, e.httpAddr)
	confFile := filepath.Join(dir, "nginx.conf")
	os.WriteFile(confFile, []byte(conf), 0o600)
	testenv.StartProcess(t, "nginx", exec.Command(bin, "-p", dir, "-c", confFile), testenv.TCPReady(fmt.Sprintf("127.0.0.1:%d", port)))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func TestE2EAuthzNginx(t *testing.T) {
	e := newAuthzEnv(t)
	gw := startNginx(t, e)
	do := func(method, path, body string, key string) (int, string) {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, gw+path, r)
		if key != "" {
			req.Header.Set("api-key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, key := range []string{"plain.txt", "a b/with spaces.txt", "été/ünïcode €.txt", "sym+bols=;:@!.txt"} {
		path := "/authz/" + escapeKey(key)
		body := "stored through nginx: " + key
		if code, out := do("PUT", path, body, authzAPIKey); code != 200 {
			t.Fatalf("PUT %s: %d %s\nsignway:\n%s", key, code, out, e.logs.String())
		}
		if code, out := do("GET", path, "", authzAPIKey); code != 200 || out != body {
			t.Fatalf("GET %s: %d %q", key, code, out)
		}
		if code, _ := do("HEAD", path, "", authzAPIKey); code != 200 {
			t.Fatalf("HEAD %s: %d", key, code)
		}
	}
	if code, out := do("GET", "/authz?list-type=2&prefix=a%20b%2F", "", authzAPIKey); code != 200 || !strings.Contains(out, "with spaces.txt") {
		t.Fatalf("listing: %d %s", code, out)
	}
	if code, _ := do("DELETE", "/authz/plain.txt", "", authzAPIKey); code != 204 {
		t.Fatalf("DELETE: %d", code)
	}
	if status, _ := e.s3.Do(t, "GET", "/authz/plain.txt", nil); status != 404 {
		t.Errorf("after DELETE: %d", status)
	}
	// nginx refuses what signway refused.
	for _, bad := range []string{"", "wrong-key"} {
		if code, _ := do("GET", "/authz/%C3%A9t%C3%A9/%C3%BCn%C3%AFcode%20%E2%82%AC.txt", "", bad); code != 401 {
			t.Errorf("api-key %q: %d, want nginx's 401 after signway's", bad, code)
		}
	}
}

func TestE2EAuthzGRPC(t *testing.T) {
	e := newAuthzEnv(t)
	conn, err := grpc.NewClient(e.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.s3.Do(t, "PUT", "/authz/grpc.txt", []byte("checked by ext_authz"))
	check := func(key string) *authv3.CheckResponse {
		resp, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/authz/grpc.txt", Host: "envoy.local", Scheme: "http",
				Headers: map[string]string{"api-key": key, ":authority": "envoy.local"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	ok := check(authzAPIKey).GetOkResponse()
	if ok == nil {
		t.Fatalf("Check with the API key was denied\n%s", e.logs.String())
	}
	// Envoy would set these headers and send the request on: versitygw accepts it.
	req, _ := http.NewRequest("GET", e.s3.Endpoint+"/authz/grpc.txt", nil)
	for _, h := range ok.GetHeaders() {
		if strings.EqualFold(h.GetHeader().GetKey(), "host") {
			req.Host = h.GetHeader().GetValue()
			continue
		}
		req.Header.Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "checked by ext_authz" {
		t.Fatalf("versitygw with the Check's headers: %d %s", resp.StatusCode, b)
	}
	if d := check("wrong").GetDeniedResponse(); d == nil || d.GetStatus().GetCode() != 401 {
		t.Fatalf("a wrong API key: %v, want a 401 denial", d)
	}
}
