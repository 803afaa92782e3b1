package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/signway/signway/internal/testenv"
)

// TestAssumeRoleWithSTSDownIsACredentialsError: issue 12 item 6. With STS
// unreachable, --assume-role answered 502 UpstreamUnreachable naming STS's
// address as "the upstream" and counted an upstream error. It is a 503
// CredentialsUnavailable, counted as a credential error.
func TestAssumeRoleWithSTSDownIsACredentialsError(t *testing.T) {
	upstream := namedUpstream(t, "upstream")
	stsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) // nothing listens there
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://"+stsAddr)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	proxyURL, utilityURL, _, _, _ := startRun(t, "--forward-to", upstream.URL, "--service", "execute-api", "--region", "us-east-1",
		"--assume-role", "arn:aws:iam::123456789012:role/unreachable")

	resp, err := http.Get(proxyURL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body := mustRead(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Signway-Error") != "CredentialsUnavailable" {
		t.Fatalf("got %d %s %s, want 503 CredentialsUnavailable", resp.StatusCode, resp.Header.Get("X-Signway-Error"), body)
	}
	for _, want := range []string{"assume role arn:aws:iam::123456789012:role/unreachable", "STS AssumeRole: cannot connect to " + stsAddr} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the answer lacks %q: %s", want, body)
		}
	}
	if strings.Contains(string(body), "the upstream") {
		t.Errorf("the answer blames the upstream: %s", body)
	}
	_, metrics := get(t, http.DefaultClient, utilityURL+"/metrics")
	var credErrors, upstreamErrors bool
	for _, line := range strings.Split(metrics, "\n") {
		credErrors = credErrors || strings.HasPrefix(line, "signway_credential_errors_total{") && !strings.HasSuffix(line, " 0")
		upstreamErrors = upstreamErrors || strings.HasPrefix(line, "signway_upstream_errors_total{") && !strings.HasSuffix(line, " 0")
	}
	if !credErrors || upstreamErrors {
		t.Errorf("credential errors counted: %v, upstream errors counted: %v; want true, false\n%s", credErrors, upstreamErrors, metrics)
	}
}
