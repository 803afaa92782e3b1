package sigv4

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// HeaderPolicy decides which request headers are signed. Headers that a hop may
// change or drop are never signed, so a signature survives a proxy or a load
// balancer between signway and AWS.
type HeaderPolicy struct {
	exclude  map[string]bool // canonical MIME keys
	prefixes []string        // lowercase prefixes, e.g. "x-forwarded-"
	include  map[string]bool // nil: sign everything not excluded
	// noLength leaves content-length out, for callers whose length a hop rewrites.
	noLength bool
}

// neverSigned are hop-by-hop headers and headers that tracing, proxies and the
// Go transport set or rewrite in transit.
var neverSigned = []string{
	"Authorization", "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect", "User-Agent",
	"X-Amzn-Trace-Id", "Traceparent", "Tracestate", "X-Request-Id", "Content-Length", "Host",
}

var neverSignedPrefixes = []string{"x-forwarded-"}

// NewHeaderPolicy builds a policy. exclude adds names (or prefixes ending in '*')
// that are left out of the signature; a non-empty include restricts signing to
// those names, plus host, content-length and every x-amz-* header, which AWS
// requires to be signed whenever they are sent.
func NewHeaderPolicy(include, exclude []string) *HeaderPolicy {
	p := &HeaderPolicy{exclude: map[string]bool{}, prefixes: slices.Clone(neverSignedPrefixes)}
	for _, h := range neverSigned {
		p.exclude[h] = true
	}
	for _, h := range exclude {
		if pre, ok := strings.CutSuffix(h, "*"); ok {
			p.prefixes = append(p.prefixes, strings.ToLower(pre))
			continue
		}
		k := textproto.CanonicalMIMEHeaderKey(h)
		p.exclude[k] = true
		p.noLength = p.noLength || k == "Content-Length"
	}
	if len(include) > 0 {
		p.include = map[string]bool{}
		for _, h := range include {
			p.include[textproto.CanonicalMIMEHeaderKey(h)] = true
		}
	}
	return p
}

// DefaultHeaderPolicy signs every header but the never-signed ones.
var DefaultHeaderPolicy = NewHeaderPolicy(nil, nil)

// Signs reports whether the header with canonical MIME key k is signed.
func (p *HeaderPolicy) Signs(k string) bool {
	if p.exclude[k] {
		return false
	}
	// A key set on the map without canonicalising ("user-agent") is the
	// same header on the wire: the exclusions and inclusions apply to it.
	// CanonicalMIMEHeaderKey returns a canonical key without allocating.
	ck := textproto.CanonicalMIMEHeaderKey(k)
	if ck != k && p.exclude[ck] {
		return false
	}
	for _, pre := range p.prefixes {
		if len(k) >= len(pre) && strings.EqualFold(k[:len(pre)], pre) {
			return false
		}
	}
	if p.include != nil && !p.include[ck] && !hasPrefixFold(k, "x-amz-") {
		return false
	}
	return true
}

// dropCaseVariants deletes the keys of h that name a header the signer writes
// itself (Authorization, X-Amz-Date, X-Amz-Security-Token,
// X-Amz-Content-Sha256) in a case other than the canonical one: such a key
// would go out as a second line next to the signer's and be signed or sent
// along with it. It reports whether an X-Amz-Content-Sha256 variant was there.
func dropCaseVariants(h http.Header) (contentSHA bool) {
	for k := range h {
		var owned string
		switch len(k) {
		case len("Authorization"):
			owned = "Authorization"
		case len("X-Amz-Date"):
			owned = "X-Amz-Date"
		case len("X-Amz-Security-Token"):
			owned = "X-Amz-Security-Token"
			if hasPrefixFold(k, "X-Amz-Content-") {
				owned = "X-Amz-Content-Sha256"
			}
		default:
			continue
		}
		if k != owned && strings.EqualFold(k, owned) {
			delete(h, k)
			contentSHA = contentSHA || owned == "X-Amz-Content-Sha256"
		}
	}
	return contentSHA
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// compareFold orders header names by their lowercase form, without allocating.
func compareFold(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := lower(a[i]), lower(b[i])
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, lower(s[i]))
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// appendTrimmedValue appends v with leading and trailing whitespace removed and
// inner runs of whitespace (folded lines included) reduced to one space.
func appendTrimmedValue(dst []byte, v string) []byte {
	i, j := 0, len(v)
	for i < j && isSpace(v[i]) {
		i++
	}
	for j > i && isSpace(v[j-1]) {
		j--
	}
	space := false
	for ; i < j; i++ {
		c := v[i]
		if isSpace(c) {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

// headerEntry is one signed header: its lowercase name is derived on output.
type headerEntry struct {
	key    string   // as it appears in the header map, or "host"/"content-length"
	values []string // nil for host and content-length, which come from elsewhere
}

// collectHeaders lists the headers of h that policy signs, sorted by lowercase
// name. host and content-length are always considered, from the request fields
// the transport actually sends, not from the header map.
func collectHeaders(dst []headerEntry, h http.Header, policy *HeaderPolicy, hasLength bool) []headerEntry {
	dst = append(dst, headerEntry{key: "host"})
	if hasLength {
		dst = append(dst, headerEntry{key: "content-length"})
	}
	for k, vv := range h {
		if !policy.Signs(k) {
			continue
		}
		dst = append(dst, headerEntry{key: k, values: vv})
	}
	// Keys that differ only in case (set on the map without canonicalising)
	// go out as separate lines, in sorted key order (Header.Write), and the
	// server joins them: order them the same way so buildCanonical can merge
	// them deterministically.
	slices.SortFunc(dst, func(a, b headerEntry) int {
		if c := compareFold(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return dst
}

// sameHeader reports whether two entries name the same header; they are
// then one line of the canonical request and one name in SignedHeaders.
func sameHeader(a, b string) bool { return len(a) == len(b) && compareFold(a, b) == 0 }

// appendSignedHeaders appends "host;x-amz-date;...", each name once.
func appendSignedHeaders(dst []byte, entries []headerEntry) []byte {
	for i, e := range entries {
		if i > 0 {
			if sameHeader(e.key, entries[i-1].key) {
				continue
			}
			dst = append(dst, ';')
		}
		dst = appendLower(dst, e.key)
	}
	return dst
}
