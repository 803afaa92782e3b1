package config

import (
	"fmt"
	"net"
	"strings"
)

// checkHostPattern accepts an exact host name, an IP literal, or *.suffix.
func checkHostPattern(h string) string {
	h = strings.ToLower(h)
	if strings.Contains(h, "://") || strings.ContainsAny(h, "/?#@ ") {
		return fmt.Sprintf("%q must be a host name or a *.suffix pattern alone (no protocol, path or user info)", h)
	}
	if suffix, ok := strings.CutPrefix(h, "*."); ok {
		if isIPLike(suffix) {
			return fmt.Sprintf("%q: an IP address cannot be a pattern; list each address exactly", h)
		}
		if strings.Contains(suffix, "*") {
			return fmt.Sprintf("%q: only the whole first label may be *", h)
		}
		if !strings.Contains(suffix, ".") {
			return fmt.Sprintf("%q is too broad: give at least two labels after *.", h)
		}
		return checkLabels(suffix)
	}
	if strings.Contains(h, "*") {
		return fmt.Sprintf("%q: a wildcard is allowed only as the whole first label, as in *.example.com", h)
	}
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		if ip.To4() == nil {
			// The router compares host names and IPv4 addresses only.
			return fmt.Sprintf("%q: an IPv6 address cannot be matched; give the upstream as a route's url instead", h)
		}
		return ""
	}
	if strings.Contains(h, ":") {
		return fmt.Sprintf("%q: the port is not part of a host match", h)
	}
	return checkLabels(h)
}

// isIPLike catches IP literals and their fragments (*.0.0.1, *.[::1]).
func isIPLike(s string) bool {
	if strings.ContainsAny(s, ":[]") || net.ParseIP(s) != nil {
		return true
	}
	return strings.Trim(s, "0123456789.") == ""
}

func checkLabels(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "" || len(h) > 253 {
		return fmt.Sprintf("%q is not a host name", h)
	}
	for l := range strings.SplitSeq(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return fmt.Sprintf("%q is not a host name (label %q)", h, l)
		}
	}
	return ""
}
