package sigv4

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Verification answers "did the holder of this access key sign exactly this
// request?" for requests that arrive at signway: callers that sign with
// signway-issued keys, the demo's upstream, and the diagnosis of an upstream
// 403. It recomputes the canonical request with the signer's own code
// (buildCanonical, appendCanonicalPath, parseQuery), so signer and verifier
// cannot drift apart.

// verifyKeys caches the verifier's derived keys: callers sign many requests a
// day with one key.
var verifyKeys = NewKeyCache()

// DefaultMaxSkew is how far a header-signed request's date may be from the
// verifier's clock, as AWS allows.
const DefaultMaxSkew = 15 * time.Minute

// VerifyOptions configure Verify. Lookup is required.
type VerifyOptions struct {
	// Now is the verifier's clock; the package never reads the clock itself.
	Now time.Time
	// MaxSkew bounds |Now - signing time| for header-signed requests (and how
	// far in the future a presigned URL may be dated). Zero means 15 minutes.
	MaxSkew time.Duration
	// Lookup returns the credentials of an access key ID; an error means the
	// key is unknown (or disabled).
	Lookup func(accessKeyID string) (Credentials, error)
	// RequiredSignedHeaders must all appear in SignedHeaders; "host" is
	// always required.
	RequiredSignedHeaders []string
	// PayloadHash is the body's hex SHA-256 when the caller knows it. When it
	// is empty the X-Amz-Content-Sha256 header is used; failing that the
	// empty-body hash when the request has no body; otherwise Verify fails
	// and asks the client to send x-amz-content-sha256.
	PayloadHash string
	// Service and Region, when set, must match the credential scope (for
	// SigV4A, Region must be matched by the signed region set).
	Service, Region string
}

// Verified describes a request whose signature checked out.
type Verified struct {
	AccessKeyID string
	Service     string
	Region      string   // SigV4; empty for SigV4A
	RegionSet   []string // SigV4A
	Algorithm   string
	SignedAt    time.Time
	Presigned   bool
	// PayloadHash is what the signature covers: a hex SHA-256, or a marker
	// such as UNSIGNED-PAYLOAD or STREAMING-*. When it is a hash the caller
	// did not supply, wrap the body with NewHashCheckingReader.
	PayloadHash   string
	SignedHeaders []string
	Credentials   Credentials
	// Signature is the verified signature: an aws-chunked body's chunk
	// signatures chain from it (VerifiedBody).
	Signature string
}

// VerifyKind classifies a verification failure.
type VerifyKind uint8

const (
	// Malformed: the signature material cannot be read (missing or
	// duplicated parts, bad dates, bad escapes, unsupported algorithm).
	Malformed VerifyKind = iota + 1
	// UnknownKey: Lookup does not know the access key ID, or the session
	// token does not belong to it.
	UnknownKey
	// SignatureMismatch: the signature is not the one for this request.
	SignatureMismatch
	// Expired: a presigned request past X-Amz-Date + X-Amz-Expires.
	Expired
	// ClockSkew: the signing time is too far from the verifier's clock.
	ClockSkew
	// HeaderNotSigned: a required header is not in SignedHeaders.
	HeaderNotSigned
	// BodyHashMismatch: the body does not hash to what the request claims.
	BodyHashMismatch
	// ScopeMismatch: the credential scope is for another service or region.
	ScopeMismatch
)

var kindNames = [...]string{
	Malformed: "malformed", UnknownKey: "unknown key", SignatureMismatch: "signature mismatch",
	Expired: "expired", ClockSkew: "clock skew", HeaderNotSigned: "header not signed",
	BodyHashMismatch: "body hash mismatch", ScopeMismatch: "scope mismatch",
}

func (k VerifyKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "VerifyKind(" + strconv.Itoa(int(k)) + ")"
}

// AWSCode is the error code AWS answers with for this kind, so an inbound
// verifier can reply in the form SDKs understand.
func (k VerifyKind) AWSCode() string {
	switch k {
	case UnknownKey:
		return "InvalidAccessKeyId"
	case SignatureMismatch:
		return "SignatureDoesNotMatch"
	case Expired, HeaderNotSigned:
		return "AccessDenied"
	case ClockSkew:
		return "RequestTimeTooSkewed"
	case BodyHashMismatch:
		return "XAmzContentSHA256Mismatch"
	case ScopeMismatch:
		return "AuthorizationHeaderMalformed"
	}
	return "AuthorizationHeaderMalformed"
}

// Sentinel errors, one per kind: errors.Is(err, ErrSignatureMismatch) holds
// for every *VerifyError of that kind.
var (
	ErrMalformed         = errors.New("sigv4: malformed signature")
	ErrUnknownKey        = errors.New("sigv4: unknown access key")
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")
	ErrExpired           = errors.New("sigv4: presigned request expired")
	ErrClockSkew         = errors.New("sigv4: request time too skewed")
	ErrHeaderNotSigned   = errors.New("sigv4: required header not signed")
	ErrBodyHashMismatch  = errors.New("sigv4: body hash mismatch")
	ErrScopeMismatch     = errors.New("sigv4: credential scope mismatch")
)

func (k VerifyKind) sentinel() error {
	switch k {
	case Malformed:
		return ErrMalformed
	case UnknownKey:
		return ErrUnknownKey
	case SignatureMismatch:
		return ErrSignatureMismatch
	case Expired:
		return ErrExpired
	case ClockSkew:
		return ErrClockSkew
	case HeaderNotSigned:
		return ErrHeaderNotSigned
	case BodyHashMismatch:
		return ErrBodyHashMismatch
	case ScopeMismatch:
		return ErrScopeMismatch
	}
	return nil
}

// VerifyError is every failure of Verify and of NewHashCheckingReader. Its
// message says what differs and what to fix; it never contains the secret or
// the expected signature, so it can be returned to the caller.
type VerifyError struct {
	Kind   VerifyKind
	Detail string
	// CanonicalRequest and StringToSign are the verifier's, set for signature
	// mismatches: a client compares them with its own to see what differs.
	CanonicalRequest, StringToSign string
	err                            error // the underlying cause, if any
}

func (e *VerifyError) Error() string { return "sigv4 verify: " + e.Kind.String() + ": " + e.Detail }

// Is makes errors.Is(err, ErrX) match the sentinel of the error's kind.
func (e *VerifyError) Is(target error) bool { return target != nil && target == e.Kind.sentinel() }

// Unwrap returns the cause: the Lookup error or a *MalformedError.
func (e *VerifyError) Unwrap() error { return e.err }

func verr(kind VerifyKind, format string, args ...any) *VerifyError {
	return &VerifyError{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// sigParts is the signature material of a request, from either mode.
type sigParts struct {
	algorithm     string
	accessKeyID   string
	date          string // YYYYMMDD from the scope
	region        string // SigV4 only
	service       string
	signedHeaders string // as sent
	signature     string
	amzDate       string // YYYYMMDDTHHMMSSZ, the string to sign's timestamp
	signedAt      time.Time
	expires       time.Duration // presigned only
	regionSet     string        // SigV4A
	token         string
	tokenPresent  bool
	presigned     bool
	rawQuery      string // the query that is canonicalised (no X-Amz-Signature)
}

// Verify checks the SigV4 or SigV4A signature of r, in its Authorization
// header or its query string, as the server r arrived at would. r is not
// modified. Any failure is a *VerifyError.
func Verify(r *http.Request, opts VerifyOptions) (*Verified, error) {
	if r == nil || r.URL == nil {
		return nil, verr(Malformed, "no request")
	}
	sp, err := parseSignature(r)
	if err != nil {
		return nil, err
	}
	if err := checkScope(sp, opts); err != nil {
		return nil, err
	}
	signedList, err := checkSignedHeaders(sp.signedHeaders, opts.RequiredSignedHeaders, sp.presigned)
	if err != nil {
		return nil, err
	}
	if err := checkTime(sp, opts); err != nil {
		return nil, err
	}
	if opts.Lookup == nil {
		return nil, verr(UnknownKey, "the verifier has no key lookup configured (VerifyOptions.Lookup is nil)")
	}
	creds, err := opts.Lookup(sp.accessKeyID)
	if err != nil {
		e := verr(UnknownKey, "access key ID %q is not known here: sign with a key this gateway issued", sp.accessKeyID)
		e.err = err
		return nil, e
	}
	if creds.SecretAccessKey == "" {
		return nil, verr(UnknownKey, "access key ID %q has no secret configured", sp.accessKeyID)
	}
	if creds.AccessKeyID == "" {
		creds.AccessKeyID = sp.accessKeyID
	}
	if creds.SessionToken != "" && (!sp.tokenPresent ||
		subtle.ConstantTimeCompare([]byte(sp.token), []byte(creds.SessionToken)) != 1) {
		return nil, verr(UnknownKey, "the security token (X-Amz-Security-Token) is missing or does not belong to access key ID %q: send the session token issued with the key", sp.accessKeyID)
	}
	payload, err := payloadHashFor(r, sp, opts)
	if err != nil {
		return nil, err
	}

	w := getWork()
	defer w.release()
	missing, err := canonicalForVerify(w, r, sp, signedList, payload)
	if err != nil {
		e := verr(Malformed, "%v", err)
		e.err = err
		return nil, e
	}
	region := sp.region
	if sp.algorithm == algorithmV4A {
		region = ""
	}
	buildStringToSign(w, sp.algorithm, []byte(sp.amzDate), region, sp.service)

	var ok bool
	if sp.algorithm == algorithmV4 {
		var d [8]byte
		copy(d[:], sp.date)
		sig := verifyKeys.signingKey(creds.SecretAccessKey, d, sp.region, sp.service).mac(w.hash, w.sts, w.scratch)
		var want [64]byte
		hex.Encode(want[:], sig[:])
		ok = subtle.ConstantTimeCompare(want[:], []byte(sp.signature)) == 1
	} else {
		ok = verifyECDSA(creds, w.sts, sp.signature)
	}
	if !ok {
		detail := "the signature does not match the request: compare this canonical request and string to sign with the client's"
		if len(missing) > 0 {
			detail = fmt.Sprintf("the signature does not match the request; signed header(s) %s are absent from the request as received (a hop removed them, or the client signed headers it did not send)", strings.Join(missing, ", "))
		}
		e := verr(SignatureMismatch, "%s", detail)
		e.CanonicalRequest, e.StringToSign = string(w.creq), string(w.sts)
		return nil, e
	}
	v := &Verified{
		AccessKeyID: sp.accessKeyID, Service: sp.service, Region: region, Algorithm: sp.algorithm,
		SignedAt: sp.signedAt, Presigned: sp.presigned, PayloadHash: payload,
		SignedHeaders: signedList, Credentials: creds, Signature: sp.signature,
	}
	if sp.algorithm == algorithmV4A {
		v.RegionSet = strings.Split(sp.regionSet, ",")
	}
	return v, nil
}

// parseSignature finds the signature material in the Authorization header or
// in the query, never both.
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

func checkScope(sp *sigParts, opts VerifyOptions) error {
	if opts.Service != "" && sp.service != opts.Service {
		return verr(ScopeMismatch, "the credential scope is for service %q, this endpoint verifies %q: sign for service %q", truncate(sp.service), opts.Service, opts.Service)
	}
	if opts.Region == "" {
		return nil
	}
	if sp.algorithm == algorithmV4 {
		if sp.region != opts.Region {
			return verr(ScopeMismatch, "the credential scope is for region %q, this endpoint is in %q: sign for region %q", truncate(sp.region), opts.Region, opts.Region)
		}
		return nil
	}
	for _, pat := range strings.Split(sp.regionSet, ",") {
		if matchRegion(strings.TrimSpace(pat), opts.Region) {
			return nil
		}
	}
	return verr(ScopeMismatch, "the SigV4A region set %q does not include region %q: add it to X-Amz-Region-Set", truncate(sp.regionSet), opts.Region)
}

// matchRegion matches a region-set entry, in which '*' stands for any run of
// characters ("*", "us-*", "us-*-1"), against a region.
func matchRegion(pat, region string) bool {
	star := strings.IndexByte(pat, '*')
	if star < 0 {
		return pat == region
	}
	if !strings.HasPrefix(region, pat[:star]) {
		return false
	}
	rest := pat[star+1:]
	for i := star; i <= len(region); i++ {
		if matchRegion(rest, region[i:]) {
			return true
		}
	}
	return false
}

// checkSignedHeaders validates the SignedHeaders list: lowercase names, sorted,
// no duplicates, host and every required header present.
func checkSignedHeaders(list string, required []string, presigned bool) ([]string, error) {
	if list == "" {
		return nil, verr(Malformed, "SignedHeaders is empty: sign at least host")
	}
	names := strings.Split(list, ";")
	for i, n := range names {
		if n == "" {
			return nil, verr(Malformed, "SignedHeaders %q has an empty name", truncate(list))
		}
		for j := 0; j < len(n); j++ {
			if c := n[j]; c <= ' ' || c >= 0x7f || 'A' <= c && c <= 'Z' || c == ':' {
				return nil, verr(Malformed, "SignedHeaders %q must list lowercase header names", truncate(list))
			}
		}
		if i > 0 && names[i-1] >= n {
			return nil, verr(Malformed, "SignedHeaders %q must be sorted and without duplicates", truncate(list))
		}
	}
	if _, ok := slices.BinarySearch(names, "host"); !ok {
		return nil, verr(HeaderNotSigned, "SignedHeaders %q does not include host: the host header must be signed", truncate(list))
	}
	for _, req := range required {
		req = strings.ToLower(req)
		if _, ok := slices.BinarySearch(names, req); !ok {
			return nil, verr(HeaderNotSigned, "header %q must be signed but SignedHeaders is %q: add it to the signed headers", req, truncate(list))
		}
	}
	return names, nil
}

func checkTime(sp *sigParts, opts VerifyOptions) error {
	skew := opts.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	d := opts.Now.Sub(sp.signedAt)
	if sp.presigned {
		if d < -skew {
			return verr(ClockSkew, "the presigned request is dated %s, %s in the future of this server's clock %s: check the signer's clock", sp.amzDate, (-d).Round(time.Second), opts.Now.UTC().Format(amzDateFmt))
		}
		if d > sp.expires {
			return verr(Expired, "the presigned request was signed at %s and expired %s later, %s ago: presign it again", sp.amzDate, sp.expires, (d - sp.expires).Round(time.Second))
		}
		return nil
	}
	if d > skew || d < -skew {
		dir := "behind"
		if d < 0 {
			dir, d = "ahead of", -d
		}
		return verr(ClockSkew, "the request time %s is %s %s this server's clock %s (allowed %s): fix the client's clock and sign again", sp.amzDate, d.Round(time.Second), dir, opts.Now.UTC().Format(amzDateFmt), skew)
	}
	return nil
}

// isHexHash reports a 64-digit hex SHA-256, as opposed to a marker such as
// UNSIGNED-PAYLOAD or STREAMING-AWS4-HMAC-SHA256-PAYLOAD.
func isHexHash(s string) bool { return len(s) == 64 && isLowerHex(strings.ToLower(s)) }

// payloadHashFor picks the payload hash of the canonical request.
func payloadHashFor(r *http.Request, sp *sigParts, opts VerifyOptions) (string, error) {
	vv := r.Header.Values("X-Amz-Content-Sha256")
	if len(vv) > 1 {
		return "", verr(Malformed, "the request has %d X-Amz-Content-Sha256 headers: send exactly one", len(vv))
	}
	claimed := ""
	if len(vv) == 1 {
		claimed = strings.TrimSpace(vv[0])
	}
	if claimed != "" {
		if opts.PayloadHash != "" && isHexHash(claimed) && !strings.EqualFold(claimed, opts.PayloadHash) {
			return "", verr(BodyHashMismatch, "x-amz-content-sha256 is %s but the body's SHA-256 is %s: hash the body that is sent", claimed, opts.PayloadHash)
		}
		return claimed, nil
	}
	if opts.PayloadHash != "" {
		return opts.PayloadHash, nil
	}
	if sp.presigned && PathModeFor(sp.service) == PathS3 {
		// S3 presigned URLs always sign UNSIGNED-PAYLOAD: the body is not
		// known when the URL is made.
		return UnsignedPayload, nil
	}
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return EmptyPayloadHash, nil
	}
	return "", verr(Malformed, "the request has a body but no x-amz-content-sha256 header: send the body's hex SHA-256 (or UNSIGNED-PAYLOAD) in x-amz-content-sha256 and sign it")
}

// canonicalForVerify builds the canonical request for r into w from the
// signed header list as sent, the path as received and the query as received
// (minus X-Amz-Signature). It returns the signed headers absent from r.
func canonicalForVerify(w *work, r *http.Request, sp *sigParts, names []string, payload string) ([]string, error) {
	path, _, err := appendCanonicalPath(w.scratch[:0], wirePath(r), PathModeFor(sp.service))
	if err != nil {
		return nil, err
	}
	if w.pairs, err = parseQuery(w.pairs[:0], sp.rawQuery); err != nil {
		return nil, err
	}
	sortPairs(w.pairs)
	var missing []string
	for _, n := range names {
		switch n {
		case "host":
			w.headers = append(w.headers, headerEntry{key: "host"})
			continue
		case "content-length":
			if vv := r.Header["Content-Length"]; len(vv) > 0 {
				w.headers = append(w.headers, headerEntry{key: "Content-Length", values: vv})
			} else if r.ContentLength >= 0 {
				w.headers = append(w.headers, headerEntry{key: "content-length"})
			} else {
				missing = append(missing, n)
				w.headers = append(w.headers, headerEntry{key: n})
			}
			continue
		}
		start := len(w.headers)
		ck := textproto.CanonicalMIMEHeaderKey(n)
		if vv, ok := r.Header[ck]; ok {
			w.headers = append(w.headers, headerEntry{key: ck, values: vv})
		}
		// Keys a client set without canonicalising travel as their own lines
		// and are merged by the server: the signer merges them in key order.
		for k, vv := range r.Header {
			if k != ck && len(k) == len(n) && strings.EqualFold(k, n) {
				w.headers = append(w.headers, headerEntry{key: k, values: vv})
			}
		}
		if len(w.headers) == start {
			missing = append(missing, n)
			w.headers = append(w.headers, headerEntry{key: n})
			continue
		}
		slices.SortFunc(w.headers[start:], func(a, b headerEntry) int { return strings.Compare(a.key, b.key) })
	}
	w.signed = append(w.signed[:0], sp.signedHeaders...)
	buildCanonical(w, r, path, payload)
	w.scratch = path[:0]
	return missing, nil
}

// hashCheckingReader hashes a body as it is read and fails at EOF when the
// hash is not the one claimed.
type hashCheckingReader struct {
	body io.ReadCloser
	want string
	h    hash.Hash
	err  error
}

// NewHashCheckingReader returns body wrapped so that reading it to the end
// yields a *VerifyError of kind BodyHashMismatch instead of io.EOF when the
// body's SHA-256 is not wantHex. It is how a streamed body is held to the
// x-amz-content-sha256 it was signed with, without buffering it. A wantHex
// that is not a hash (UNSIGNED-PAYLOAD, STREAMING-*) checks nothing and body
// is returned as is.
func NewHashCheckingReader(body io.ReadCloser, wantHex string) io.ReadCloser {
	if !isHexHash(wantHex) {
		return body
	}
	if body == nil {
		body = http.NoBody
	}
	return &hashCheckingReader{body: body, want: strings.ToLower(wantHex), h: sha256.New()}
}

func (r *hashCheckingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.body.Read(p)
	r.h.Write(p[:n])
	if err == io.EOF {
		var sum [32]byte
		got := hex.EncodeToString(r.h.Sum(sum[:0]))
		if got != r.want {
			r.err = verr(BodyHashMismatch, "the body's SHA-256 is %s but x-amz-content-sha256 claims %s: send the body that was hashed", got, r.want)
			return n, r.err
		}
		r.err = io.EOF
	}
	return n, err
}

func (r *hashCheckingReader) Close() error { return r.body.Close() }
