package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// SignedCanonical rebuilds the canonical request and string to sign of a
// request that was signed (by this package or anyone), from the request as
// it was sent. An upstream that refuses a signature often says what it
// computed; this is the other half of that comparison.
func SignedCanonical(r *http.Request) (Signed, error) {
	if r == nil || r.URL == nil {
		return Signed{}, verr(Malformed, "no request")
	}
	sp, err := parseSignature(r)
	if err != nil {
		return Signed{}, err
	}
	names, err := checkSignedHeaders(sp.signedHeaders, nil, sp.presigned)
	if err != nil {
		return Signed{}, err
	}
	payload, err := payloadHashFor(r, sp, VerifyOptions{})
	if err != nil {
		return Signed{}, err
	}
	w := getWork()
	defer w.release()
	if _, err := canonicalForVerify(w, r, sp, names, payload); err != nil {
		return Signed{}, err
	}
	region := sp.region
	if sp.algorithm == algorithmV4A {
		region = ""
	}
	buildStringToSign(w, sp.algorithm, []byte(sp.amzDate), region, sp.service)
	return Signed{CanonicalRequest: string(w.creq), StringToSign: string(w.sts), Signature: sp.signature}, nil
}

// Mismatch is the first difference between two canonical requests (or, when
// they agree, between two strings to sign).
type Mismatch struct {
	// Part names what differs: "method", "path", "query", "header NAME",
	// "signed headers", "payload hash", "string to sign", or "none".
	Part         string
	Ours, Theirs string // the differing values, secrets redacted
}

func (m Mismatch) String() string {
	switch m.Part {
	case "none":
		return "the canonical request and the string to sign agree, so the signing key differs: the secret access key is wrong for this access key ID, or the credentials were revoked or have expired"
	case "string to sign":
		return fmt.Sprintf("the canonical requests agree but the strings to sign differ (date, scope or algorithm): signway signed %q, the upstream expected %q", m.Ours, m.Theirs)
	}
	return fmt.Sprintf("%s differs: signway signed %q, the upstream computed %q", m.Part, m.Ours, m.Theirs)
}

type canonicalParts struct {
	method, path, query string
	headers             []string // "name:value" lines
	signed, payload     string
}

func splitCanonical(c string) (canonicalParts, bool) {
	lines := strings.Split(strings.ReplaceAll(c, "\r\n", "\n"), "\n")
	if len(lines) < 6 {
		return canonicalParts{}, false
	}
	p := canonicalParts{method: lines[0], path: lines[1], query: lines[2]}
	i := 3
	for ; i < len(lines) && lines[i] != ""; i++ {
		p.headers = append(p.headers, lines[i])
	}
	if i+2 >= len(lines) {
		return canonicalParts{}, false
	}
	p.signed, p.payload = lines[i+1], lines[i+2]
	return p, true
}

// secretHeaders and secretParams have values that never go into a
// diagnosis (names in lower case). In query signing the session token
// travels in the query, where it is part of the canonical request.
var (
	secretHeaders = map[string]bool{"x-amz-security-token": true, "authorization": true, "cookie": true,
		"proxy-authorization": true, "x-api-key": true}
	secretParams = map[string]bool{"x-amz-security-token": true, "x-amz-signature": true, "signature": true,
		"token": true, "access_token": true, "id_token": true, "api_key": true, "apikey": true, "x-api-key": true,
		"password": true, "secret": true, "client_secret": true,
		// Also in the debug log and the access log: the access key ID
		// (its scope stays), and the names other APIs give keys.
		"x-amz-credential": true, "api-key": true, "key": true, "sig": true, "x-goog-signature": true, "auth": true}
)

// redacted stands for a secret value. Its fingerprint (a short hash, useless
// to an attacker) still tells whether two redacted values differ.
func redacted(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return "<redacted " + hex.EncodeToString(sum[:4]) + ">"
}

func redactHeader(line string) string {
	name, value, _ := strings.Cut(line, ":")
	if secretHeaders[strings.ToLower(name)] {
		return name + ":" + redacted(value)
	}
	return line
}

// redactQuery redacts the values of secret parameters in a canonical query
// string (name=value pairs joined by &, each URI-encoded).
func redactQuery(q string) string {
	if q == "" {
		return q
	}
	pairs := strings.Split(q, "&")
	for i, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if !secretParams[strings.ToLower(name)] {
			continue
		}
		scope := ""
		if strings.EqualFold(name, "X-Amz-Credential") {
			// KEYID/DATE/REGION/SERVICE/aws4_request: the scope is what a
			// mismatch is usually about, and no secret.
			if j := strings.Index(value, "%2F"); j >= 0 {
				value, scope = value[:j], value[j:]
			} else if j := strings.IndexByte(value, '/'); j >= 0 {
				value, scope = value[:j], value[j:]
			}
		}
		pairs[i] = p[:len(p)-len(value)-len(scope)] + redacted(value) + scope
	}
	return strings.Join(pairs, "&")
}

// CompareSigned explains the first difference between what was signed and
// what the upstream says it computed. theirsSTS may be empty.
func CompareSigned(ours Signed, theirsCanonical, theirsSTS string) Mismatch {
	o, ok1 := splitCanonical(ours.CanonicalRequest)
	t, ok2 := splitCanonical(theirsCanonical)
	if !ok1 || !ok2 {
		return Mismatch{Part: "canonical request", Ours: "(unparsable)", Theirs: "(unparsable)"}
	}
	for _, f := range []struct{ part, a, b string }{
		{"method", o.method, t.method}, {"path", o.path, t.path},
	} {
		if f.a != f.b {
			return Mismatch{Part: f.part, Ours: f.a, Theirs: f.b}
		}
	}
	if o.query != t.query {
		return Mismatch{Part: "query", Ours: redactQuery(o.query), Theirs: redactQuery(t.query)}
	}
	for i := 0; i < max(len(o.headers), len(t.headers)); i++ {
		var a, b string
		if i < len(o.headers) {
			a = o.headers[i]
		}
		if i < len(t.headers) {
			b = t.headers[i]
		}
		if a != b {
			name, _, _ := strings.Cut(a, ":")
			if name == "" {
				name, _, _ = strings.Cut(b, ":")
			}
			return Mismatch{Part: "header " + name, Ours: redactHeader(a), Theirs: redactHeader(b)}
		}
	}
	if o.signed != t.signed {
		return Mismatch{Part: "signed headers", Ours: o.signed, Theirs: t.signed}
	}
	if o.payload != t.payload {
		return Mismatch{Part: "payload hash", Ours: o.payload, Theirs: t.payload}
	}
	if theirsSTS = strings.ReplaceAll(theirsSTS, "\r\n", "\n"); theirsSTS != "" && theirsSTS != ours.StringToSign {
		return Mismatch{Part: "string to sign", Ours: ours.StringToSign, Theirs: theirsSTS}
	}
	return Mismatch{Part: "none"}
}
