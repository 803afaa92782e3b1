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

// secretParams are query parameters whose values never go into a log:
// signway's own signature parts and the names services and callers use
// for keys and tokens.
var secretParams = map[string]bool{
	"x-amz-security-token": true, "x-amz-signature": true, "x-amz-credential": true,
	"api_key": true, "apikey": true, "api-key": true, "x-api-key": true, "key": true,
	"access_token": true, "token": true, "id_token": true, "password": true,
	"secret": true, "signature": true, "sig": true, "x-goog-signature": true,
	"client_secret": true, "auth": true,
}

// SecretParam reports whether a query parameter's value must be redacted
// before it is logged; the access log uses the same list.
func SecretParam(name string) bool { return secretParams[strings.ToLower(name)] }

// Redacted replaces a secret value in logs and debug output.
const Redacted = "REDACTED"

// RedactQuery replaces the values of secret parameters in an encoded query
// (canonical or as sent), keeping everything else byte for byte. The
// credential keeps its scope (date, region, service), which is what a
// mismatch is usually about; only the access key ID goes.
func RedactQuery(q string) string {
	if q == "" {
		return q
	}
	var b strings.Builder
	for i, piece := range strings.Split(q, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, v, hasValue := strings.Cut(piece, "=")
		if !hasValue || v == "" || !SecretParam(k) {
			b.WriteString(piece)
			continue
		}
		b.WriteString(k)
		b.WriteByte('=')
		if strings.EqualFold(k, "X-Amz-Credential") {
			if i := strings.Index(v, "%2F"); i >= 0 {
				b.WriteString(Redacted + v[i:])
				continue
			}
			if i := strings.IndexByte(v, '/'); i >= 0 {
				b.WriteString(Redacted + v[i:])
				continue
			}
		}
		b.WriteString(Redacted)
	}
	return b.String()
}

// RedactCanonical returns a canonical request with the query's secret
// values and the values of secret headers (the session token, cookies,
// API keys) replaced.
func RedactCanonical(c string) string {
	lines := strings.Split(c, "\n")
	if len(lines) < 3 {
		return c
	}
	lines[2] = RedactQuery(lines[2])
	for i := 3; i < len(lines) && lines[i] != ""; i++ {
		if name, _, _ := strings.Cut(lines[i], ":"); secretHeaders[name] {
			lines[i] = name + ":" + Redacted
		}
	}
	return strings.Join(lines, "\n")
}
