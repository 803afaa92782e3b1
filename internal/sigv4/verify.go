package sigv4

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
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
