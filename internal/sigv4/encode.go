package sigv4

import (
	"fmt"
	"strings"
)

const upperhex = "0123456789ABCDEF"

// unreserved reports the RFC 3986 unreserved set, the only bytes SigV4 leaves
// unencoded.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// appendEncoded appends s encoded with the unreserved set only; '/' is kept when
// keepSlash is set (paths) and encoded otherwise (query names and values).
func appendEncoded(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || c == '/' && keepSlash {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperhex[c>>4], upperhex[c&15])
	}
	return dst
}

// needsEncoding reports whether appendEncoded would change s.
func needsEncoding(s string, keepSlash bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !unreserved(c) && !(c == '/' && keepSlash) {
			return true
		}
	}
	return false
}

// MalformedError reports request parts that cannot be canonicalised (a bad
// percent-escape, say). The proxy answers it with 400.
type MalformedError struct {
	Part   string // "path", "query", "header", "Authorization", ...
	Reason string
}

func (e *MalformedError) Error() string { return "malformed " + e.Part + ": " + e.Reason }

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// percentDecode decodes %XX escapes and nothing else: '+' stays a literal plus,
// as it does in a path and as SigV4 requires in a query (a space is sent as %20).
func percentDecode(s, part string) (string, error) {
	n := strings.IndexByte(s, '%')
	if n < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:n]...)
	for i := n; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", &MalformedError{Part: part, Reason: fmt.Sprintf("truncated percent-escape %q", s[i:])}
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", &MalformedError{Part: part, Reason: fmt.Sprintf("invalid percent-escape %q", s[i:i+3])}
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

// PathMode says how a service canonicalises the request path.
type PathMode uint8

const (
	// PathNormalized is every service but S3: dot segments and duplicate slashes
	// are removed from the path as sent, which is then URI-encoded a second time.
	PathNormalized PathMode = iota
	// PathS3 is S3 and its relatives: the path is decoded once and re-encoded with
	// the unreserved set, never normalised ("//", "." and ".." are part of a key).
	// The signer also sends the path in that encoding.
	PathS3
	// PathEncoded encodes the path as given without normalising it: the
	// "normalize": false cases of aws-c-auth's vectors.
	PathEncoded
)

// PathModeFor returns the path mode AWS uses for a signing service name.
func PathModeFor(service string) PathMode {
	switch service {
	case "s3", "s3-object-lambda", "s3-outposts", "s3express":
		return PathS3
	}
	return PathNormalized
}

// CanonicalPath returns the canonical URI for the request path as it goes on the
// wire (escaped form) and, for PathS3, the wire path that must be sent so the two
// agree. For the other modes wire is the input.
func CanonicalPath(escapedPath string, mode PathMode) (canonical, wire string, err error) {
	var buf []byte
	buf, wire, err = appendCanonicalPath(nil, escapedPath, mode)
	return string(buf), wire, err
}

func appendCanonicalPath(dst []byte, p string, mode PathMode) ([]byte, string, error) {
	if p == "" {
		return append(dst, '/'), "/", nil
	}
	switch mode {
	case PathS3:
		if !needsEncoding(p, true) {
			return append(dst, p...), p, nil
		}
		decoded, err := percentDecode(p, "path")
		if err != nil {
			return dst, "", err
		}
		start := len(dst)
		dst = appendEncoded(dst, decoded, true)
		return dst, string(dst[start:]), nil
	case PathEncoded:
		return appendEncoded(dst, p, true), p, nil
	default:
		return appendEncoded(dst, normalizePath(p), true), p, nil
	}
}

// normalizePath removes "." and ".." segments and empty segments (duplicate
// slashes), keeping a leading slash, and a trailing one when the input had one
// and something remains: RFC 3986 section 5.2.4 as botocore and the AWS services
// apply it.
func normalizePath(p string) string {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") && p[0] == '/' {
		return p // fast path: nothing to remove
	}
	segs := make([]string, 0, strings.Count(p, "/")+1)
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	var b strings.Builder
	b.Grow(len(p))
	if p[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(segs, "/"))
	if p[len(p)-1] == '/' && len(segs) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}
