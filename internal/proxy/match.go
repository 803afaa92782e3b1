package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Match says which requests a route takes. Empty fields match anything.
type Match struct {
	// Host is an exact host name or a "*.suffix" pattern, compared without
	// the port and case-insensitively. "*.example.com" matches
	// "a.example.com" and "a.b.example.com", not "example.com".
	Host string
	// Path is an exact path; PathPrefix a prefix that ends at a segment
	// boundary ("/api" matches "/api" and "/api/x", not "/apix").
	Path       string
	PathPrefix string
	// Methods, upper case; empty means every method.
	Methods []string
}

// specificity orders routes: a more specific match wins whatever the order
// routes are written in, and equal ones keep their written order.
func (m Match) specificity() [4]int {
	host := 0
	switch {
	case m.Host == "":
	case strings.HasPrefix(m.Host, "*."):
		host = 1 + len(m.Host) // a longer suffix is more specific
	default:
		host = 1 << 20
	}
	path := 0
	switch {
	case m.Path != "":
		path = 1 << 20
	case m.PathPrefix != "":
		path = 1 + len(m.PathPrefix)
	}
	methods := 0
	if len(m.Methods) > 0 {
		methods = 1
	}
	return [4]int{host, path, methods, 0}
}

func (m Match) matches(host, path, method string) bool {
	if m.Host != "" && !hostMatches(m.Host, host) {
		return false
	}
	if m.Path != "" && path != m.Path {
		return false
	}
	if p := m.PathPrefix; p != "" && p != "/" {
		p = strings.TrimSuffix(p, "/")
		if path != p && !strings.HasPrefix(path, p+"/") {
			return false
		}
	}
	return len(m.Methods) == 0 || slices.Contains(m.Methods, method)
}

func hostMatches(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		// An IP literal is never covered by a wildcard ("*.1" must not
		// reach 10.0.0.1): only an exact entry allows an address.
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix) && net.ParseIP(host) == nil
	}
	return host == pattern
}

// validateMatch rejects patterns that could never be safe to match against a
// caller's Host header.
func validateMatch(m Match) error {
	if m.Host != "" {
		h := strings.TrimPrefix(m.Host, "*.")
		if h == "" || strings.ContainsAny(h, "*/@:? ") || h != strings.ToLower(h) {
			return fmt.Errorf("host pattern %q must be a lowercase name or *.suffix, without port, scheme or path", m.Host)
		}
		if strings.HasPrefix(m.Host, "*.") && net.ParseIP(h) != nil {
			return fmt.Errorf("host pattern %q: a wildcard cannot cover an IP address", m.Host)
		}
	}
	if m.Path != "" && !strings.HasPrefix(m.Path, "/") || m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
		return fmt.Errorf("paths must start with '/'")
	}
	for _, meth := range m.Methods {
		if meth != strings.ToUpper(meth) || meth == "" {
			return fmt.Errorf("method %q must be upper case", meth)
		}
	}
	return nil
}

// requestHost is the caller's host, lowercased, without port or trailing
// dot, and whether it is a plain DNS name or IP literal. Only r.Host counts:
// X-Forwarded-Host is never consulted (ReverseProxy drops it), and for an
// absolute-form request line Go sets r.Host from the URL, so both are checked
// the same way.
func requestHostName(r *http.Request) (host, port string, ok bool) {
	h := r.Host
	if h == "" {
		return "", "", false
	}
	// Without a colon there is no port, and SplitHostPort's error would
	// cost an allocation on every request.
	if strings.IndexByte(h, ':') >= 0 {
		if hh, p, err := net.SplitHostPort(h); err == nil {
			h, port = hh, p
		}
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" {
		return "", "", false
	}
	if inner, ok := strings.CutPrefix(h, "["); ok {
		// "[::1]" without a port: the brackets must hold a real address.
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok || !isIP(inner) {
			return "", "", false
		}
		return inner, port, true
	}
	if isIP(h) {
		return h, port, true
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return "", "", false // '@', '%', '_', spaces, non-ASCII: never a host to sign for
		}
	}
	return h, port, true
}

// isIP is net.ParseIP(s) != nil without its allocation: an IPv4 or IPv6
// literal, never with a zone.
func isIP(s string) bool {
	// Only an IPv6 literal has a colon, and only an IPv4 one is all digits
	// and dots: a name is neither, and ParseAddr's error would allocate.
	if strings.IndexByte(s, ':') < 0 && strings.Trim(s, "0123456789.") != "" {
		return false
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// HostMatches reports whether host (lower case, no port) is covered by a
// host rule's pattern: an exact name or "*.suffix", never an IP literal by
// a wildcard. The forward proxy uses it to decide what to intercept.
func HostMatches(pattern, host string) bool { return hostMatches(strings.ToLower(pattern), host) }
