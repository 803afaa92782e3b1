package main

import "testing"

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
