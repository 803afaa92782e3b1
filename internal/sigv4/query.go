package sigv4

import (
	"slices"
	"strings"
)

type queryPair struct{ k, v string } // both already canonically encoded

// encodeComponent decodes one query name or value and re-encodes it with the
// unreserved set. Most components need neither, so they are returned as is
// without allocating.
func encodeComponent(s string) (string, error) {
	if !needsEncoding(s, false) {
		return s, nil
	}
	d, err := percentDecode(s, "query")
	if err != nil {
		return "", err
	}
	if !needsEncoding(d, false) {
		return d, nil
	}
	return string(appendEncoded(make([]byte, 0, len(d)+16), d, false)), nil
}

// parseQuery splits a raw query into canonically encoded pairs, in order.
// Empty pieces ("a=1&&b=2") carry no parameter and are dropped; a name without
// '=' has an empty value.
func parseQuery(dst []queryPair, raw string) ([]queryPair, error) {
	for raw != "" {
		var piece string
		piece, raw, _ = strings.Cut(raw, "&")
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		ek, err := encodeComponent(k)
		if err != nil {
			return dst, err
		}
		ev, err := encodeComponent(v)
		if err != nil {
			return dst, err
		}
		dst = append(dst, queryPair{ek, ev})
	}
	return dst, nil
}

func sortPairs(pairs []queryPair) {
	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
}

func appendPairs(dst []byte, pairs []queryPair) []byte {
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, p.k...)
		dst = append(dst, '=')
		dst = append(dst, p.v...)
	}
	return dst
}

// CanonicalQuery returns the canonical query string for a raw query: every name
// and value decoded, re-encoded with the unreserved set (space as %20, '+' as
// %2B), sorted by name then value.
func CanonicalQuery(rawQuery string) (string, error) {
	pairs, err := parseQuery(nil, rawQuery)
	if err != nil {
		return "", err
	}
	sortPairs(pairs)
	return string(appendPairs(nil, pairs)), nil
}

// wireQuery re-encodes a raw query in its original order, so the query that is
// sent means exactly what was signed whatever the server makes of '+' or of a
// reserved character left bare. Pieces keep their '=' or lack of it.
func wireQuery(raw string) (string, bool, error) {
	if !queryNeedsRewrite(raw) {
		return raw, false, nil
	}
	var b []byte
	for raw != "" {
		var piece string
		piece, raw, _ = strings.Cut(raw, "&")
		if piece == "" {
			continue
		}
		k, v, hasEq := strings.Cut(piece, "=")
		ek, err := encodeComponent(k)
		if err != nil {
			return "", false, err
		}
		if len(b) > 0 {
			b = append(b, '&')
		}
		b = append(b, ek...)
		if hasEq {
			ev, err := encodeComponent(v)
			if err != nil {
				return "", false, err
			}
			b = append(b, '=')
			b = append(b, ev...)
		}
	}
	return string(b), true, nil
}

// queryNeedsRewrite is the allocation-free check that a raw query is already in
// canonical encoding: only unreserved bytes, separators (one '=' per piece)
// and uppercase escapes of bytes that must be escaped, and no empty pieces.
func queryNeedsRewrite(raw string) bool {
	prev := byte('&')
	eq := false // the piece has its '=': another one is data, sent as %3D
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case unreserved(c):
		case c == '=':
			if eq {
				return true
			}
			eq = true
		case c == '&':
			if prev == '&' {
				return true
			}
			eq = false
		case c == '%':
			if i+2 >= len(raw) {
				return true
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 || unreserved(hi<<4|lo) || raw[i+1] >= 'a' || raw[i+2] >= 'a' {
				return true
			}
			i += 2
		default:
			return true
		}
		prev = c
	}
	return prev == '&' && raw != ""
}
