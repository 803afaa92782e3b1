package sigv4

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

func parseSignature(r *http.Request) (*sigParts, error) {
	auths := r.Header.Values("Authorization")
	inQuery := queryHasParam(r.URL.RawQuery, "X-Amz-Signature") || queryHasParam(r.URL.RawQuery, "X-Amz-Algorithm")
	switch {
	case len(auths) > 1:
		return nil, verr(Malformed, "the request has %d Authorization headers: send exactly one", len(auths))
	case len(auths) == 1 && inQuery:
		return nil, verr(Malformed, "the request is signed both in the Authorization header and in the query: use one mechanism")
	case len(auths) == 1:
		return parseAuthorization(r, auths[0])
	case inQuery:
		return parsePresigned(r)
	}
	return nil, verr(Malformed, "the request is not signed: it has no Authorization header and no X-Amz-Signature query parameter")
}

func checkAlgorithm(alg string) error {
	if alg != algorithmV4 && alg != algorithmV4A {
		return verr(Malformed, "unsupported algorithm %q: use %s or %s", truncate(alg), algorithmV4, algorithmV4A)
	}
	return nil
}

// truncate keeps attacker-supplied text in messages short.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// parseAuthorization reads "ALG Credential=..., SignedHeaders=..., Signature=...".
// Components may be separated by commas and/or any whitespace.
func parseAuthorization(r *http.Request, auth string) (*sigParts, error) {
	auth = strings.TrimSpace(auth)
	i := strings.IndexAny(auth, " \t")
	if i < 0 {
		return nil, verr(Malformed, "Authorization header has no components after the algorithm: expected \"%s Credential=..., SignedHeaders=..., Signature=...\"", algorithmV4)
	}
	sp := &sigParts{algorithm: auth[:i]}
	if err := checkAlgorithm(sp.algorithm); err != nil {
		return nil, err
	}
	var cred, signedHeaders, sig string
	var seen [3]bool
	for _, f := range strings.FieldsFunc(auth[i:], func(c rune) bool { return c == ',' || c == ' ' || c == '\t' }) {
		k, v, ok := strings.Cut(f, "=")
		idx := -1
		switch {
		case !ok:
		case k == "Credential":
			idx, cred = 0, v
		case k == "SignedHeaders":
			idx, signedHeaders = 1, v
		case k == "Signature":
			idx, sig = 2, v
		}
		if idx < 0 {
			return nil, verr(Malformed, "Authorization header has an unexpected component %q: expected Credential=, SignedHeaders= and Signature=", truncate(f))
		}
		if seen[idx] {
			return nil, verr(Malformed, "Authorization header repeats %s", k)
		}
		seen[idx] = true
	}
	for i, name := range [...]string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[i] {
			return nil, verr(Malformed, "Authorization header has no %s= component", name)
		}
	}
	if err := parseCredential(sp, cred, "the Authorization header's Credential"); err != nil {
		return nil, err
	}
	sp.signedHeaders, sp.signature = signedHeaders, sig
	if err := checkSignatureSyntax(sp); err != nil {
		return nil, err
	}
	if vv := r.Header.Values("X-Amz-Date"); len(vv) > 1 {
		return nil, verr(Malformed, "the request has %d X-Amz-Date headers: send exactly one", len(vv))
	} else if len(vv) == 1 {
		if err := parseAmzDate(sp, strings.TrimSpace(vv[0]), "X-Amz-Date header"); err != nil {
			return nil, err
		}
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(strings.TrimSpace(d))
		if err != nil {
			return nil, verr(Malformed, "the Date header %q is not an HTTP date: send X-Amz-Date as YYYYMMDDTHHMMSSZ", truncate(d))
		}
		sp.signedAt = t.UTC()
		sp.amzDate = sp.signedAt.Format(amzDateFmt)
	} else {
		return nil, verr(Malformed, "the request has neither X-Amz-Date nor Date: send X-Amz-Date and sign it")
	}
	if vv := r.Header.Values("X-Amz-Security-Token"); len(vv) > 0 {
		sp.token, sp.tokenPresent = strings.TrimSpace(vv[0]), true
	}
	if sp.algorithm == algorithmV4A {
		vv := r.Header.Values("X-Amz-Region-Set")
		if len(vv) != 1 || strings.TrimSpace(vv[0]) == "" {
			return nil, verr(Malformed, "a SigV4A request needs exactly one X-Amz-Region-Set header")
		}
		sp.regionSet = strings.TrimSpace(vv[0])
	}
	sp.rawQuery = r.URL.RawQuery
	return sp, sp.checkDateScope()
}

// parseCredential reads AK/DATE/REGION/SERVICE/aws4_request (SigV4) or
// AK/DATE/SERVICE/aws4_request (SigV4A).
func parseCredential(sp *sigParts, cred, where string) error {
	parts := strings.Split(cred, "/")
	want := 5
	form := "ACCESSKEY/YYYYMMDD/REGION/SERVICE/aws4_request"
	if sp.algorithm == algorithmV4A {
		want, form = 4, "ACCESSKEY/YYYYMMDD/SERVICE/aws4_request"
	}
	if len(parts) != want || parts[want-1] != scopeRequest {
		return verr(Malformed, "%s %q is not of the form %s", where, truncate(cred), form)
	}
	for _, p := range parts {
		if p == "" {
			return verr(Malformed, "%s %q has an empty part: expected %s", where, truncate(cred), form)
		}
	}
	sp.accessKeyID, sp.date = parts[0], parts[1]
	if _, err := time.Parse("20060102", sp.date); err != nil || len(sp.date) != 8 {
		return verr(Malformed, "%s has date %q: expected YYYYMMDD", where, truncate(sp.date))
	}
	if want == 5 {
		sp.region, sp.service = parts[2], parts[3]
	} else {
		sp.service = parts[2]
	}
	return nil
}

func checkSignatureSyntax(sp *sigParts) error {
	if sp.algorithm == algorithmV4 {
		if len(sp.signature) != 64 || !isLowerHex(sp.signature) {
			return verr(Malformed, "Signature must be 64 lowercase hex digits, got %d characters", len(sp.signature))
		}
		return nil
	}
	if sp.signature == "" || len(sp.signature) > 512 || !isLowerHex(strings.ToLower(sp.signature)) {
		return verr(Malformed, "a SigV4A Signature must be the hex of a DER ECDSA signature")
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func parseAmzDate(sp *sigParts, v, where string) error {
	t, err := time.Parse(amzDateFmt, v)
	if err != nil || len(v) != len(amzDateFmt) {
		return verr(Malformed, "%s %q is not of the form YYYYMMDDTHHMMSSZ", where, truncate(v))
	}
	sp.signedAt, sp.amzDate = t, v
	return nil
}

func (sp *sigParts) checkDateScope() error {
	if sp.amzDate[:8] != sp.date {
		return verr(Malformed, "the credential scope's date %s is not the date of the signing time %s: sign with the scope of the day of X-Amz-Date", sp.date, sp.amzDate)
	}
	return nil
}

// queryHasParam reports whether a raw query has a parameter whose decoded
// name is name.
func queryHasParam(raw, name string) bool {
	if !strings.Contains(raw, "X-Amz-") && !strings.Contains(raw, "%") {
		return false
	}
	for raw != "" {
		var piece string
		piece, raw, _ = strings.Cut(raw, "&")
		k, _, _ := strings.Cut(piece, "=")
		if k == name {
			return true
		}
		if strings.IndexByte(k, '%') >= 0 {
			if d, err := percentDecode(k, "query"); err == nil && d == name {
				return true
			}
		}
	}
	return false
}

// parsePresigned reads the X-Amz-* query parameters of a presigned request.
func parsePresigned(r *http.Request) (*sigParts, error) {
	sp := &sigParts{presigned: true}
	vals := map[string]string{}
	var kept []string
	raw := r.URL.RawQuery
	for raw != "" {
		var piece string
		piece, raw, _ = strings.Cut(raw, "&")
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		dk, err := percentDecode(k, "query")
		if err != nil {
			e := verr(Malformed, "%v", err)
			e.err = err
			return nil, e
		}
		if dk != "X-Amz-Signature" {
			kept = append(kept, piece)
		}
		if !presignParams[dk] {
			continue
		}
		dv, err := percentDecode(v, "query")
		if err != nil {
			e := verr(Malformed, "%v", err)
			e.err = err
			return nil, e
		}
		if _, dup := vals[dk]; dup {
			return nil, verr(Malformed, "query parameter %s appears more than once", dk)
		}
		vals[dk] = dv
	}
	for _, k := range [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		if _, ok := vals[k]; !ok {
			return nil, verr(Malformed, "presigned request has no %s query parameter", k)
		}
	}
	sp.algorithm = vals["X-Amz-Algorithm"]
	if err := checkAlgorithm(sp.algorithm); err != nil {
		return nil, err
	}
	if err := parseCredential(sp, vals["X-Amz-Credential"], "X-Amz-Credential"); err != nil {
		return nil, err
	}
	sp.signedHeaders, sp.signature = vals["X-Amz-SignedHeaders"], vals["X-Amz-Signature"]
	if err := checkSignatureSyntax(sp); err != nil {
		return nil, err
	}
	if err := parseAmzDate(sp, vals["X-Amz-Date"], "X-Amz-Date query parameter"); err != nil {
		return nil, err
	}
	exp := vals["X-Amz-Expires"]
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || n < 1 || time.Duration(n)*time.Second > maxPresign || exp[0] == '+' {
		return nil, verr(Malformed, "X-Amz-Expires %q must be a number of seconds from 1 to 604800 (7 days)", truncate(exp))
	}
	sp.expires = time.Duration(n) * time.Second
	sp.token, sp.tokenPresent = vals["X-Amz-Security-Token"]
	if sp.algorithm == algorithmV4A {
		sp.regionSet = vals["X-Amz-Region-Set"]
		if sp.regionSet == "" {
			return nil, verr(Malformed, "a SigV4A presigned request needs an X-Amz-Region-Set query parameter")
		}
	}
	sp.rawQuery = strings.Join(kept, "&")
	return sp, sp.checkDateScope()
}
