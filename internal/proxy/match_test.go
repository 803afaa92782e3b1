package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// TestMatchHost: a caller's Host against a host pattern, as the router
// compares them (the pattern lowercased as the gateway gives it).
func TestMatchHost(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"*.s3.us-east-1.amazonaws.com", "bucket.s3.us-east-1.amazonaws.com", true},
		{"*.s3.us-east-1.amazonaws.com", "my.dotted.bucket.s3.us-east-1.amazonaws.com:443", true},
		{"*.s3.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com", false},
		{"*.s3.us-east-1.amazonaws.com", "evil-s3.us-east-1.amazonaws.com", false},
		{"*.s3.us-east-1.amazonaws.com", "bucket.s3.us-east-1.amazonaws.com.evil.example", false},
		{"API.example", "api.EXAMPLE.", true},
		{"10.0.0.7", "10.0.0.7:9000", true},
	} {
		m := Match{Host: strings.ToLower(tc.pattern)}
		if err := validateMatch(m); err != nil {
			t.Fatal(err)
		}
		host, _, ok := requestHostName(&http.Request{Host: tc.host})
		if got := ok && m.matches(host, "/", "GET"); got != tc.want {
			t.Errorf("pattern %q, Host %q: match = %v", tc.pattern, tc.host, got)
		}
	}
}
