package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// TestSigningBaselinesSign checks that both signing floors send what a
// SigV4 server accepts: a floor that sent no signature, or a wrong one,
// would make signway look slower than signing has to be.
func TestSigningBaselinesSign(t *testing.T) {
	const secret = "loadbench/dummy/secret/not/a/real/key"
	got := make(chan error, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := sigv4.Verify(r, sigv4.VerifyOptions{
			Now:     time.Now(),
			Service: "execute-api", Region: "us-east-1",
			RequiredSignedHeaders: []string{"x-amz-content-sha256", "x-amz-date"},
			Lookup: func(id string) (sigv4.Credentials, error) {
				if id != "AKIDLOADBENCHEXAMPLE" {
					return sigv4.Credentials{}, errors.New("unknown key " + id)
				}
				return sigv4.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
			},
		})
		if err == nil && v.PayloadHash != emptyPayloadHash {
			err = errors.New("signed payload hash " + v.PayloadHash + ", want the empty body's")
		}
		got <- err
	}))
	defer origin.Close()

	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"signway's signer", newMinSigningTransport(http.DefaultTransport, "execute-api", "us-east-1")},
		{"aws-sdk-go-v2's signer", newSDKSigningTransport(http.DefaultTransport, "execute-api", "us-east-1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := http.NewRequest(http.MethodGet, origin.URL+"/prod/items?limit=10", nil)
			if err != nil {
				t.Fatal(err)
			}
			in.Header.Set("User-Agent", "wrk")
			resp, err := tc.rt.RoundTrip(in)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if err := <-got; err != nil {
				t.Fatalf("the origin could not verify the signature: %v", err)
			}
			if in.Header.Get("Authorization") != "" {
				t.Fatal("the caller's request was signed in place: the transport must sign a clone")
			}
		})
	}
}

func TestParseSign(t *testing.T) {
	for _, tc := range []struct {
		in, service, region string
		ok                  bool
	}{
		{"execute-api/us-east-1", "execute-api", "us-east-1", true},
		{"s3", "", "", false},
		{"/us-east-1", "", "", false},
		{"s3/", "", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			service, region, err := parseSign(tc.in)
			if (err == nil) != tc.ok || service != tc.service || region != tc.region {
				t.Fatalf("parseSign(%q) = %q, %q, %v", tc.in, service, region, err)
			}
		})
	}
}

func TestParseConfigProxies(t *testing.T) {
	c, err := parseConfig([]string{"-proxies", "bare-pooled,bare-signing,bare-sdk-signing,signway"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.proxies) != 4 || c.proxies[1] != "bare-signing" || c.proxies[2] != "bare-sdk-signing" {
		t.Fatalf("proxies %q", c.proxies)
	}
	if _, err := parseConfig([]string{"-proxies", "bare-pooled,envoy"}); err == nil {
		t.Fatal("an unknown proxy kind was accepted")
	}
}
