package proxy

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// FuzzRequestHost: whatever a caller puts in Host, the name signway accepts
// is a plain lowercase DNS name or IP literal, and a wildcard rule never
// admits an IP address or a name outside its suffix. isIP, which spares the
// allocation, agrees with net.ParseIP on every input.
func FuzzRequestHost(f *testing.F) {
	for _, seed := range []string{"bucket.s3.us-east-1.amazonaws.com", "a@b.example", "169.254.169.254", "[::1]:80",
		"EVIL.example.", "x.s3.us-east-1.amazonaws.com:8080", "x%2e.example", "ünïcode.example", "", ":", "a..b", "10.0.0.1"} {
		f.Add(seed)
	}
	const pattern = "*.s3.us-east-1.amazonaws.com"
	f.Fuzz(func(t *testing.T, h string) {
		if isIP(h) != (net.ParseIP(h) != nil) {
			t.Fatalf("isIP(%q) = %v, net.ParseIP says otherwise", h, isIP(h))
		}
		host, _, ok := requestHostName(&http.Request{Host: h})
		if !ok {
			return
		}
		if host != strings.ToLower(host) || strings.ContainsAny(host, "@/?#% \t") {
			t.Fatalf("accepted host %q from %q", host, h)
		}
		if hostMatches(pattern, host) {
			if net.ParseIP(strings.Trim(host, "[]")) != nil || !strings.HasSuffix(host, ".s3.us-east-1.amazonaws.com") {
				t.Fatalf("%q admitted %q (from %q)", pattern, host, h)
			}
		}
	})
}
