package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/signway/signway/internal/testenv"
)

// scrapeMetrics reads the utility port's /metrics into series -> value.
func scrapeMetrics(t *testing.T, utilityURL string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(utilityURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsThroughMoto sends a request through a route that assumes a role
// in moto, and reads back from /metrics what the credentials cache, STS and
// the proxy recorded.
func TestMetricsThroughMoto(t *testing.T) {
	moto := testenv.Moto(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", moto.Endpoint)
	const role = "arn:aws:iam::123456789012:role/signway-metrics"
	proxyURL, utilityURL, _, _, logs := startRunAs(t, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"--forward-to", moto.Endpoint, "--service", "sts", "--region", "us-east-1", "--assume-role", role)
	form := "Action=GetCallerIdentity&Version=2011-06-15"
	resp, err := http.Post(proxyURL+"/", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("got %d %s\n%s", resp.StatusCode, body, logs.String())
	}

	got := scrapeMetrics(t, utilityURL)
	source := `source="assume role ` + role + `"`
	exact := map[string]float64{
		`signway_credential_refreshes_total{result="success",` + source + `}`:                 1,
		`signway_sts_request_duration_seconds_count{operation="AssumeRole",result="success"}`: 1,
		`signway_request_body_bytes_total{route="default"}`:                                   float64(len(form)),
		`signway_response_body_bytes_total{route="default"}`:                                  float64(len(body)),
		`signway_upstream_responses_total{code="200",route="default"}`:                        1,
		`signway_upstream_duration_seconds_count{route="default"}`:                            1,
		`signway_signing_duration_seconds_count{route="default"}`:                             1,
	}
	for k, v := range exact {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// The SDK's default session is 15 minutes.
	if exp := got[`signway_credentials_expiry_seconds{`+source+`}`]; exp < 10*60 || exp > 15*60 {
		t.Errorf("signway_credentials_expiry_seconds{%s} = %v, want about 900", source, exp)
	}
	if t.Failed() {
		for k, v := range got {
			if strings.HasPrefix(k, "signway_") {
				t.Logf("%s %v", k, v)
			}
		}
	}
}
