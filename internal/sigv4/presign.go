package sigv4

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// presignParams are the query parameters that carry a query signature; a
// caller's own are dropped before signing so they cannot be smuggled in.
var presignParams = map[string]bool{
	"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true,
	"X-Amz-Expires": true, "X-Amz-SignedHeaders": true, "X-Amz-Signature": true,
	"X-Amz-Security-Token": true, "X-Amz-Region-Set": true,
}

// LifetimeError reports a presign lifetime outside what AWS accepts.
type LifetimeError struct{ Lifetime time.Duration }

func (e *LifetimeError) Error() string {
	return fmt.Sprintf("presign lifetime %s is out of range: it must be between 1s and 168h (7 days)", e.Lifetime)
}

func checkLifetime(d time.Duration) error {
	if d < time.Second || d > maxPresign || d%time.Second != 0 {
		return &LifetimeError{Lifetime: d}
	}
	return nil
}

// stripPresignParams removes signature parameters from an encoded raw query.
func stripPresignParams(raw string) string {
	if !strings.Contains(raw, "X-Amz-") {
		return raw
	}
	var kept []string
	for _, piece := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(piece, "=")
		if piece != "" && !presignParams[k] {
			kept = append(kept, piece)
		}
	}
	return strings.Join(kept, "&")
}

// Presign signs r in its query string (a presigned URL) with p's algorithm,
// valid for lifetime from now. The request keeps its headers; those the
// policy signs must be sent as they are. For SigV4A, X-Amz-Region-Set goes in
// the signed query and the credential scope has no region.
func (s *Signer) Presign(r *http.Request, c Credentials, p *Params, now time.Time, lifetime time.Duration) error {
	_, err := s.PresignDebug(r, c, p, now, lifetime)
	return err
}

// PresignDebug presigns like Presign and returns the canonical request and the
// string to sign.
func (s *Signer) PresignDebug(r *http.Request, c Credentials, p *Params, now time.Time, lifetime time.Duration) (Signed, error) {
	if err := checkLifetime(lifetime); err != nil {
		return Signed{}, err
	}
	sc, err := p.scheme(c)
	if err != nil {
		return Signed{}, err
	}
	return s.presign(r, c, p, &sc, now, lifetime)
}

func (s *Signer) presign(r *http.Request, c Credentials, p *Params, sc *scheme, now time.Time, lifetime time.Duration) (Signed, error) {
	if err := checkLifetime(lifetime); err != nil {
		return Signed{}, err
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Signed{}, fmt.Errorf("presigning: credentials have no access key ID or secret")
	}
	w := getWork()
	defer w.release()
	amzDate := appendAmzDate(nil, now)
	if r.Header == nil {
		r.Header = http.Header{}
	}
	// The signature and the region set travel in the query; header copies
	// would be signed as well and could disagree with it.
	dropCaseVariants(r.Header)
	for _, k := range [...]string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256", "X-Amz-Region-Set"} {
		delete(r.Header, k)
	}
	path, err := prepareURL(nil, r, p.pathMode())
	if err != nil {
		return Signed{}, err
	}
	policy := p.policy()
	w.headers = collectHeaders(w.headers[:0], r.Header, policy, r.ContentLength > 0 && !policy.noLength)
	w.signed = appendSignedHeaders(w.signed[:0], w.headers)

	q := stripPresignParams(r.URL.RawQuery)
	var b []byte
	b = append(b, q...)
	if len(b) > 0 {
		b = append(b, '&')
	}
	b = append(b, "X-Amz-Algorithm="...)
	b = append(b, sc.algorithm...)
	b = append(b, "&X-Amz-Credential="...)
	b = appendEncoded(b, c.AccessKeyID+"/"+string(appendScope(nil, amzDate[:8], sc.region, p.Service)), false)
	b = append(b, "&X-Amz-Date="...)
	b = append(b, amzDate...)
	b = append(b, "&X-Amz-Expires="...)
	b = strconv.AppendInt(b, int64(lifetime/time.Second), 10)
	if sc.regionSet != "" {
		b = append(b, "&X-Amz-Region-Set="...)
		b = appendEncoded(b, sc.regionSet, false)
	}
	b = append(b, "&X-Amz-SignedHeaders="...)
	b = appendEncoded(b, string(w.signed), false)
	token := ""
	if c.SessionToken != "" {
		token = "&X-Amz-Security-Token=" + string(appendEncoded(nil, c.SessionToken, false))
		if !p.TokenAfterSigning {
			b = append(b, token...)
		}
	}
	r.URL.RawQuery = string(b)
	if w.pairs, err = parseQuery(w.pairs[:0], r.URL.RawQuery); err != nil {
		return Signed{}, err
	}
	sortPairs(w.pairs)
	buildCanonical(w, r, path, p.payloadHash())
	buildStringToSign(w, sc.algorithm, amzDate, sc.region, p.Service)
	p.debug(w, sc.algorithm)
	sig, err := s.appendSignature(nil, sc, w, c, p, amzDate[:8])
	if err != nil {
		return Signed{}, err
	}
	if p.TokenAfterSigning {
		r.URL.RawQuery += token
	}
	r.URL.RawQuery += "&X-Amz-Signature=" + string(sig)
	return Signed{string(w.creq), string(w.sts), string(sig)}, nil
}
