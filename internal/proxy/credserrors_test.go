package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/signway/signway/internal/sigv4"
)

// TestCredentialsErrorWrappingURLErrorIsACredentialsError: issue 12 item 6.
// With STS unreachable, --assume-role answered 502 UpstreamUnreachable naming
// the STS address as the upstream and counted an upstream error, because
// classify unwrapped the *url.Error nested in the credentials error.
func TestCredentialsErrorWrappingURLErrorIsACredentialsError(t *testing.T) {
	const sts = "sts.signway-test.example:443"
	stsDown := &url.Error{Op: "Post", URL: "https://" + sts + "/",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"dial refused", fmt.Errorf("assume role arn:aws:iam::1:role/x: %w", stsDown)},
		{"timeout", fmt.Errorf("assume role arn:aws:iam::1:role/x: %w", &url.Error{Op: "Post", URL: "https://" + sts + "/", Err: context.DeadlineExceeded})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			creds := func(context.Context) (sigv4.Credentials, error) { return sigv4.Credentials{}, tt.err }
			s, m := proxyTo(t, closedPort(t), "es", TransportOptions{}, creds, 0)
			resp, body := do(t, newRequest(t, http.MethodGet, s.URL+"/", nil))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Signway-Error") != "CredentialsUnavailable" {
				t.Fatalf("got %d %s %s, want 503 CredentialsUnavailable", resp.StatusCode, resp.Header.Get("X-Signway-Error"), body)
			}
			if strings.Contains(body, "the upstream") || !strings.Contains(body, "credentials check") {
				t.Errorf("the message blames the upstream or lacks the hint: %s", body)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.creds != 1 || len(m.upstream) != 0 {
				t.Errorf("credential errors = %d, upstream errors = %v; want 1 and none", m.creds, m.upstream)
			}
		})
	}
}
