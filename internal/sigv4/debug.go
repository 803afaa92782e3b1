package sigv4

import (
	"strings"
)

// Debug is what one signing computed, for a route's signing debug log and
// `signway sign`: enough to compare with what AWS says it expected, and
// nothing that would let a reader sign a request. The signature is left
// out; the session token, the access key ID and the values of secret
// headers (cookies, API keys) are redacted from the canonical request. The
// string to sign holds the hash of the unredacted canonical request, which
// is what AWS reports too.
type Debug struct {
	Algorithm        string
	CanonicalRequest string
	StringToSign     string
	SignedHeaders    []string
}

// debug hands w's signing to p.Debug, when set. It allocates, so the hot
// path only pays for it when a route asked.
func (p *Params) debug(w *work, algorithm string) {
	if p.Debug == nil {
		return
	}
	p.Debug(Debug{
		Algorithm:        algorithm,
		CanonicalRequest: RedactCanonical(string(w.creq)),
		StringToSign:     string(w.sts),
		SignedHeaders:    strings.Split(string(w.signed), ";"),
	})
}

// RedactQuery replaces the values of secret parameters (signatures, tokens,
// API keys, the access key ID of a credential, whose scope stays) in an
// encoded query, canonical or as sent, with a short fingerprint; everything
// else stays byte for byte.
func RedactQuery(q string) string { return redactQuery(q) }

// RedactCanonical returns a canonical request with the query's secret
// values and the values of secret headers (the session token, cookies,
// API keys) replaced by fingerprints.
func RedactCanonical(c string) string {
	lines := strings.Split(c, "\n")
	if len(lines) < 3 {
		return c
	}
	lines[2] = redactQuery(lines[2])
	for i := 3; i < len(lines) && lines[i] != ""; i++ {
		lines[i] = redactHeader(lines[i])
	}
	return strings.Join(lines, "\n")
}
