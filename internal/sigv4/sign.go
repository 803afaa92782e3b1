package sigv4

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials are the AWS keys a request is signed with.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expires is when temporary credentials stop working; zero when
	// unknown or never. Presigning uses it to keep a URL from outliving them.
	Expires time.Time
}

// Payload hashes with a meaning of their own in x-amz-content-sha256.
const (
	UnsignedPayload  = "UNSIGNED-PAYLOAD"
	EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

const (
	algorithmV4  = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	maxPresign   = 7 * 24 * time.Hour
	scopeRequest = "aws4_request"
)

// Algorithm is the signature scheme.
type Algorithm uint8

const (
	// SigV4 is AWS4-HMAC-SHA256: an HMAC key per day, region and service.
	SigV4 Algorithm = iota
	// SigV4A is AWS4-ECDSA-P256-SHA256: one signature valid in every region
	// of a region set (S3 Multi-Region Access Points and the like).
	SigV4A
)

// Params say how one request is signed. A route builds them once; they are read
// only while signing, so one value is shared by concurrent requests.
type Params struct {
	Service string
	Region  string
	// Algorithm is SigV4 (the zero value) or SigV4A.
	Algorithm Algorithm
	// RegionSet is where a SigV4A signature is valid: regions or patterns
	// such as "us-east-*" and "*". Empty means Region alone. SigV4 ignores it.
	RegionSet []string
	// PathMode defaults to PathModeFor(Service) when left zero-valued and
	// PathModeSet is false.
	PathMode    PathMode
	PathModeSet bool
	// PayloadHash is the hex SHA-256 of the body, UnsignedPayload, or a
	// STREAMING-* marker. Empty means the empty body's hash.
	PayloadHash string
	// ContentSHA256Header sends the payload hash as x-amz-content-sha256 and
	// signs it, as S3 requires. Header signing only.
	ContentSHA256Header bool
	// Headers picks the signed headers; nil is DefaultHeaderPolicy.
	Headers *HeaderPolicy
	// TokenAfterSigning adds X-Amz-Security-Token after the signature is
	// computed instead of signing it, for the services that want it so.
	TokenAfterSigning bool
	// Debug, when set, receives each signing's canonical request, string
	// to sign and signed header names, secrets redacted (see Debug).
	Debug func(Debug)
}

func (p *Params) pathMode() PathMode {
	if p.PathModeSet {
		return p.PathMode
	}
	return PathModeFor(p.Service)
}

func (p *Params) payloadHash() string {
	if p.PayloadHash == "" {
		return EmptyPayloadHash
	}
	return p.PayloadHash
}

func (p *Params) policy() *HeaderPolicy {
	if p.Headers == nil {
		return DefaultHeaderPolicy
	}
	return p.Headers
}

// Signer signs requests with keys from a shared cache. It is safe for
// concurrent use.
type Signer struct {
	keys *KeyCache
}

// NewSigner returns a signer; a nil cache gets a fresh one.
func NewSigner(keys *KeyCache) *Signer {
	if keys == nil {
		keys = NewKeyCache()
	}
	return &Signer{keys: keys}
}

// work is the per-request scratch space, pooled so that signing a request
// allocates only the header values it must leave behind.
type work struct {
	hash    hash.Hash // sha256, reset from saved HMAC states
	auth    []byte
	creq    []byte
	sts     []byte
	scratch []byte
	signed  []byte
	headers []headerEntry
	pairs   []queryPair
}

var workPool = sync.Pool{New: func() any {
	return &work{hash: sha256.New(), auth: make([]byte, 0, 256), creq: make([]byte, 0, 1024), sts: make([]byte, 0, 256), scratch: make([]byte, 0, 384), signed: make([]byte, 0, 128)}
}}

func getWork() *work { return workPool.Get().(*work) }

func (w *work) release() {
	if cap(w.creq) > 64<<10 {
		return // a huge request: let it go rather than pin the memory
	}
	clear(w.headers) // drop references to request header slices
	w.headers, w.pairs = w.headers[:0], w.pairs[:0]
	w.creq, w.sts, w.scratch, w.signed, w.auth = w.creq[:0], w.sts[:0], w.scratch[:0], w.signed[:0], w.auth[:0]
	workPool.Put(w)
}

// appendAmzDate appends t as YYYYMMDDTHHMMSSZ; by hand, since the general
// formatter costs more than the rest of building the string to sign.
func appendAmzDate(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append(dst, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	for i, v := range [...]int{int(mo), d, h, mi, s} {
		if i == 2 {
			dst = append(dst, 'T')
		}
		dst = append(dst, byte('0'+v/10), byte('0'+v%10))
	}
	return append(dst, 'Z')
}

func requestHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

// prepareURL applies the path mode: for S3 the request is changed to carry the
// path in the encoding that is signed. It also re-encodes the query. It returns
// the canonical path appended to dst.
func prepareURL(dst []byte, r *http.Request, mode PathMode) ([]byte, error) {
	escaped := wirePath(r)
	dst, wire, err := appendCanonicalPath(dst, escaped, mode)
	if err != nil {
		return dst, err
	}
	if wire != escaped {
		setWirePath(r, wire)
	}
	q, changed, err := wireQuery(r.URL.RawQuery)
	if err != nil {
		return dst, err
	}
	if changed {
		r.URL.RawQuery = q
	}
	return dst, nil
}

// wirePath is the path exactly as the transport will write it: an opaque
// path-absolute URL is sent verbatim, anything else in its escaped form.
func wirePath(r *http.Request) string {
	if o := r.URL.Opaque; strings.HasPrefix(o, "/") && !strings.HasPrefix(o, "//") {
		return o
	}
	return r.URL.EscapedPath()
}

// setWirePath makes r.URL send exactly wire, which is a valid encoding.
func setWirePath(r *http.Request, wire string) {
	decoded, err := percentDecode(wire, "path")
	if err != nil {
		return // cannot happen: wire came out of appendEncoded
	}
	r.URL.Opaque, r.URL.Path, r.URL.RawPath = "", decoded, wire
}

// buildCanonical writes the canonical request for r into w.creq, with the query
// pairs in w.pairs (already canonical) and the signed headers in w.headers.
func buildCanonical(w *work, r *http.Request, canonicalPath []byte, payloadHash string) {
	b := append(w.creq[:0], r.Method...)
	b = append(b, '\n')
	b = append(b, canonicalPath...)
	b = append(b, '\n')
	b = appendPairs(b, w.pairs)
	b = append(b, '\n')
	for i, e := range w.headers {
		if i > 0 && sameHeader(e.key, w.headers[i-1].key) {
			// The same header under another key: its values continue the
			// previous line, as the server will join them.
			b = b[:len(b)-1]
			for _, v := range e.values {
				b = append(b, ',')
				b = appendTrimmedValue(b, v)
			}
			b = append(b, '\n')
			continue
		}
		b = appendLower(b, e.key)
		b = append(b, ':')
		switch e.key {
		case "host":
			b = append(b, requestHost(r)...)
		case "content-length":
			b = strconv.AppendInt(b, r.ContentLength, 10)
		default:
			for i, v := range e.values {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendTrimmedValue(b, v)
			}
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, w.signed...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	w.creq = b
}

// appendScope appends "DATE/REGION/SERVICE/aws4_request".
func appendScope(dst []byte, date []byte, region, service string) []byte {
	dst = append(dst, date...)
	dst = append(dst, '/')
	if region != "" {
		dst = append(dst, region...)
		dst = append(dst, '/')
	}
	dst = append(dst, service...)
	dst = append(dst, '/')
	return append(dst, scopeRequest...)
}

// buildStringToSign writes the string to sign into w.sts.
func buildStringToSign(w *work, algorithm string, amzDate []byte, region, service string) {
	sum := sha256.Sum256(w.creq)
	b := append(w.sts[:0], algorithm...)
	b = append(b, '\n')
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = appendScope(b, amzDate[:8], region, service)
	b = append(b, '\n')
	b = hex.AppendEncode(b, sum[:])
	w.sts = b
}

func (s *Signer) signature(w *work, c Credentials, date []byte, region, service string) [32]byte {
	var d [8]byte
	copy(d[:], date)
	return s.keys.signingKey(c.SecretAccessKey, d, region, service).mac(w.hash, w.sts, w.scratch)
}

// scheme is what SigV4 and SigV4A do differently; everything else about
// signing a request is one flow.
type scheme struct {
	algorithm string
	region    string            // in the credential scope: SigV4's region, none for SigV4A
	regionSet string            // SigV4A: sent and signed as X-Amz-Region-Set
	key       *ecdsa.PrivateKey // SigV4A's signing key
}

// scheme is p's algorithm made ready to sign with c; for SigV4A that derives
// (or finds cached) the ECDSA key before the request is touched, so a failure
// leaves the request as it was.
func (p *Params) scheme(c Credentials) (scheme, error) {
	if p.Algorithm != SigV4A {
		return scheme{algorithm: algorithmV4, region: p.Region}, nil
	}
	set := p.RegionSet
	if len(set) == 0 {
		set = []string{p.Region}
	}
	return v4aScheme(c, set)
}

// appendSignature appends the hex signature of the string to sign in w.
func (s *Signer) appendSignature(dst []byte, sc *scheme, w *work, c Credentials, p *Params, date []byte) ([]byte, error) {
	if sc.key != nil {
		sig, err := signECDSA(sc.key, w.sts)
		return append(dst, sig...), err
	}
	sum := s.signature(w, c, date, sc.region, p.Service)
	return hex.AppendEncode(dst, sum[:]), nil
}

// Sign signs r in place with an Authorization header, at time now, with
// p's algorithm. r is the request about to be sent: the proxy signs a clone at
// send time.
func (s *Signer) Sign(r *http.Request, c Credentials, p *Params, now time.Time) error {
	sc, err := p.scheme(c)
	if err != nil {
		return err
	}
	w := getWork()
	defer w.release()
	_, err = s.signHeaders(w, r, c, p, &sc, now)
	return err
}

// Signed is what a signing produced, for diagnosis and tests.
type Signed struct {
	CanonicalRequest string
	StringToSign     string
	Signature        string
}

// SignDebug signs like Sign and also returns the canonical request and the
// string to sign (which cost allocations the hot path avoids).
func (s *Signer) SignDebug(r *http.Request, c Credentials, p *Params, now time.Time) (Signed, error) {
	sc, err := p.scheme(c)
	if err != nil {
		return Signed{}, err
	}
	w := getWork()
	defer w.release()
	sig, err := s.signHeaders(w, r, c, p, &sc, now)
	return Signed{string(w.creq), string(w.sts), sig}, err
}

func (s *Signer) signHeaders(w *work, r *http.Request, c Credentials, p *Params, sc *scheme, now time.Time) (string, error) {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return "", fmt.Errorf("signing: credentials have no access key ID or secret")
	}
	var dateBuf [16]byte
	amzDate := appendAmzDate(dateBuf[:0], now)
	h := r.Header
	if h == nil {
		h = http.Header{}
		r.Header = h
	}
	shaVariant := dropCaseVariants(h)
	// One allocation holds the values of every header the signer sets; each
	// gets a slice of it with its capacity capped, so appends cannot spill.
	vals := new([4]string)
	vals[0] = string(amzDate)
	h["X-Amz-Date"] = vals[0:1:1]
	delete(h, "Authorization")
	delete(h, "X-Amz-Security-Token")
	delete(h, "X-Amz-Region-Set")
	if sc.regionSet != "" {
		h["X-Amz-Region-Set"] = []string{sc.regionSet}
	}
	vals[1] = c.SessionToken
	if c.SessionToken != "" && !p.TokenAfterSigning {
		h["X-Amz-Security-Token"] = vals[1:2:2]
	}
	payload := p.payloadHash()
	// A caller's own x-amz-content-sha256 would be signed and sent while the
	// canonical request ends with payload; S3, the services that read the
	// header, and every verifier take the header's value instead, and the
	// signature fails. The header always carries what is signed.
	if _, sent := h["X-Amz-Content-Sha256"]; p.ContentSHA256Header || sent || shaVariant {
		vals[2] = payload
		h["X-Amz-Content-Sha256"] = vals[2:3:3]
	}

	path, err := prepareURL(w.scratch[:0], r, p.pathMode())
	if err != nil {
		return "", err
	}
	if w.pairs, err = parseQuery(w.pairs[:0], r.URL.RawQuery); err != nil {
		return "", err
	}
	sortPairs(w.pairs)
	policy := p.policy()
	w.headers = collectHeaders(w.headers[:0], h, policy, r.ContentLength > 0 && !policy.noLength)
	w.signed = appendSignedHeaders(w.signed[:0], w.headers)
	buildCanonical(w, r, path, payload)
	w.scratch = path[:0]
	buildStringToSign(w, sc.algorithm, amzDate, sc.region, p.Service)
	p.debug(w, sc.algorithm)

	a := append(w.auth[:0], sc.algorithm...)
	a = append(a, " Credential="...)
	a = append(a, c.AccessKeyID...)
	a = append(a, '/')
	a = appendScope(a, amzDate[:8], sc.region, p.Service)
	a = append(a, ", SignedHeaders="...)
	a = append(a, w.signed...)
	a = append(a, ", Signature="...)
	start := len(a)
	if a, err = s.appendSignature(a, sc, w, c, p, amzDate[:8]); err != nil {
		return "", err
	}
	w.auth = a
	vals[3] = string(a)
	h["Authorization"] = vals[3:4:4]
	if c.SessionToken != "" && p.TokenAfterSigning {
		h["X-Amz-Security-Token"] = vals[1:2:2]
	}
	return vals[3][start:], nil
}
