package sigv4

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SigV4A signs with an ECDSA P-256 key derived from the access key pair rather
// than with a per-day, per-region HMAC key, so one signature is valid in every
// region of a region set. The canonical request is SigV4's; the scope has no
// region (DATE/SERVICE/aws4_request) and the region set travels, signed, in
// X-Amz-Region-Set.

const algorithmV4A = "AWS4-ECDSA-P256-SHA256"

// p256NMinus2 is the order of P-256 minus 2, big-endian. A KDF output k is
// accepted when k < n-2, and k+1 is the key: that keeps the scalar in
// [1, n-2] without a modular reduction that would bias it.
var p256NMinus2 = [32]byte{
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x4f,
}

// deriveKeyV4A derives the SigV4A private key exactly as aws-sdk-go-v2 and
// aws-c-auth do: NIST SP 800-108 KDF in counter mode, PRF HMAC-SHA256 keyed
// with "AWS4A"+secret, label the algorithm name, context the access key ID
// followed by a one-byte retry counter, output length 256 bits. Only one PRF
// block is needed, so the KDF's own 32-bit counter is always 1.
func deriveKeyV4A(accessKeyID, secret string) (*ecdsa.PrivateKey, error) {
	mac := hmac.New(sha256.New, append([]byte("AWS4A"), secret...))
	var fixed []byte
	fixed = binary.BigEndian.AppendUint32(fixed, 1)
	fixed = append(fixed, algorithmV4A...)
	fixed = append(fixed, 0)
	fixed = append(fixed, accessKeyID...)
	counterAt := len(fixed)
	fixed = append(fixed, 0)
	fixed = binary.BigEndian.AppendUint32(fixed, 256)
	var k [32]byte
	for counter := 1; counter <= 0xff; counter++ {
		fixed[counterAt] = byte(counter)
		mac.Reset()
		mac.Write(fixed)
		mac.Sum(k[:0])
		if !lessThanCT(&k, &p256NMinus2) {
			continue // about one chance in 2^32: try the next counter
		}
		addOne(&k)
		return ecdsa.ParseRawPrivateKey(elliptic.P256(), k[:])
	}
	return nil, errors.New("sigv4a: key derivation exhausted its counter")
}

// lessThanCT reports a < b for big-endian numbers in constant time: the secret
// is an input to the KDF, so the candidate must not leak through timing.
func lessThanCT(a, b *[32]byte) bool {
	var borrow uint32
	for i := 31; i >= 0; i-- {
		borrow = (uint32(a[i]) - uint32(b[i]) - borrow) >> 31
	}
	return borrow == 1
}

// addOne adds 1 in constant time; the caller guarantees no overflow (k < n-2).
func addOne(k *[32]byte) {
	carry := uint16(1)
	for i := 31; i >= 0; i-- {
		s := uint16(k[i]) + carry
		k[i], carry = byte(s), s>>8
	}
}

type v4aKeyID struct{ accessKeyID, secret string }

// v4aKeyCache holds derived keys per key pair. It is package-wide, not per
// Signer, because the key is a pure function of the credentials and the
// verifier (which has no Signer) needs the same keys: derivation costs a
// scalar multiplication, far more than signing a request with a cached key.
type v4aKeyCache struct {
	mu   sync.RWMutex
	keys map[v4aKeyID]*ecdsa.PrivateKey
}

// maxCachedV4AKeys bounds the cache like maxCachedKeys: past it the cache
// starts again, so memory stays flat whatever number of callers come by.
const maxCachedV4AKeys = 1024

var v4aKeys = &v4aKeyCache{keys: map[v4aKeyID]*ecdsa.PrivateKey{}}

func (c *v4aKeyCache) key(cr Credentials) (*ecdsa.PrivateKey, error) {
	id := v4aKeyID{cr.AccessKeyID, cr.SecretAccessKey}
	c.mu.RLock()
	k, ok := c.keys[id]
	c.mu.RUnlock()
	if ok {
		return k, nil
	}
	k, err := deriveKeyV4A(cr.AccessKeyID, cr.SecretAccessKey)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.keys) >= maxCachedV4AKeys {
		clear(c.keys)
	}
	c.keys[id] = k
	c.mu.Unlock()
	return k, nil
}

// PublicKeyV4A returns the big-endian X and Y coordinates of the SigV4A public
// key for c, as AWS's test vectors and diagnosis tools print them.
func PublicKeyV4A(c Credentials) (x, y []byte, err error) {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return nil, nil, errors.New("sigv4a: credentials have no access key ID or secret")
	}
	k, err := v4aKeys.key(c)
	if err != nil {
		return nil, nil, err
	}
	b, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, nil, err
	}
	return b[1:33], b[33:65], nil
}

// signECDSA returns the hex of the ASN.1 DER signature over SHA-256(sts). The
// signature is randomised, so two signings of one request differ.
func signECDSA(k *ecdsa.PrivateKey, sts []byte) (string, error) {
	digest := sha256.Sum256(sts)
	der, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(der), nil
}

// verifyECDSA reports whether sigHex (hex of an ASN.1 DER signature) signs
// stringToSign with the SigV4A key of c. Any malformed input is simply false:
// the verifier answers every failure the same way.
func verifyECDSA(c Credentials, stringToSign []byte, sigHex string) bool {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return false
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return false
	}
	k, err := v4aKeys.key(c)
	if err != nil {
		return false
	}
	digest := sha256.Sum256(stringToSign)
	return ecdsa.VerifyASN1(&k.PublicKey, digest[:], sig)
}

// joinRegionSet returns the X-Amz-Region-Set value. Regions may carry
// wildcards ("us-east-*", "*"); an empty set or a region with a comma or
// whitespace would make a value AWS cannot read back as the signed set.
func joinRegionSet(regionSet []string) (string, error) {
	if len(regionSet) == 0 {
		return "", errors.New("sigv4a: empty region set")
	}
	for _, r := range regionSet {
		if r == "" || strings.ContainsAny(r, ", \t\r\n") {
			return "", fmt.Errorf("sigv4a: invalid region %q in region set", r)
		}
	}
	return strings.Join(regionSet, ","), nil
}

// SignHeadersV4A signs r in place with a SigV4A Authorization header valid in
// every region of regionSet, at time now. p.Region is not used.
func (s *Signer) SignHeadersV4A(r *http.Request, c Credentials, p *Params, regionSet []string, now time.Time) error {
	w := getWork()
	defer w.release()
	_, err := s.signHeadersV4A(w, r, c, p, regionSet, now)
	return err
}

// SignHeadersV4ADebug signs like SignHeadersV4A and also returns the canonical
// request and the string to sign.
func (s *Signer) SignHeadersV4ADebug(r *http.Request, c Credentials, p *Params, regionSet []string, now time.Time) (Signed, error) {
	w := getWork()
	defer w.release()
	sig, err := s.signHeadersV4A(w, r, c, p, regionSet, now)
	return Signed{string(w.creq), string(w.sts), sig}, err
}

// signHeadersV4A follows signHeaders step for step; it differs in the region
// set header, the scope without a region and the ECDSA signature.
func (s *Signer) signHeadersV4A(w *work, r *http.Request, c Credentials, p *Params, regionSet []string, now time.Time) (string, error) {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return "", errors.New("signing: credentials have no access key ID or secret")
	}
	set, err := joinRegionSet(regionSet)
	if err != nil {
		return "", err
	}
	// Derive before touching r, so a failure leaves the request as it was.
	key, err := v4aKeys.key(c)
	if err != nil {
		return "", err
	}
	var dateBuf [16]byte
	amzDate := appendAmzDate(dateBuf[:0], now)
	h := r.Header
	if h == nil {
		h = http.Header{}
		r.Header = h
	}
	h["X-Amz-Date"] = []string{string(amzDate)}
	h["X-Amz-Region-Set"] = []string{set}
	delete(h, "Authorization")
	delete(h, "X-Amz-Security-Token")
	if c.SessionToken != "" && !p.TokenAfterSigning {
		h["X-Amz-Security-Token"] = []string{c.SessionToken}
	}
	payload := p.payloadHash()
	if p.ContentSHA256Header {
		h["X-Amz-Content-Sha256"] = []string{payload}
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
	buildStringToSign(w, algorithmV4A, amzDate, "", p.Service)
	sig, err := signECDSA(key, w.sts)
	if err != nil {
		return "", err
	}

	a := make([]byte, 0, 64+len(c.AccessKeyID)+len(p.Service)+len(w.signed)+len(sig))
	a = append(a, algorithmV4A+" Credential="...)
	a = append(a, c.AccessKeyID...)
	a = append(a, '/')
	a = appendScope(a, amzDate[:8], "", p.Service)
	a = append(a, ", SignedHeaders="...)
	a = append(a, w.signed...)
	a = append(a, ", Signature="...)
	a = append(a, sig...)
	h["Authorization"] = []string{string(a)}
	if c.SessionToken != "" && p.TokenAfterSigning {
		h["X-Amz-Security-Token"] = []string{c.SessionToken}
	}
	return sig, nil
}

// PresignV4A signs r in its query string with SigV4A, valid for lifetime from
// now in every region of regionSet.
func (s *Signer) PresignV4A(r *http.Request, c Credentials, p *Params, regionSet []string, now time.Time, lifetime time.Duration) error {
	_, err := s.PresignV4ADebug(r, c, p, regionSet, now, lifetime)
	return err
}

// PresignV4ADebug presigns like PresignV4A and returns the canonical request
// and the string to sign. It mirrors PresignDebug, adding X-Amz-Region-Set to
// the signed query.
func (s *Signer) PresignV4ADebug(r *http.Request, c Credentials, p *Params, regionSet []string, now time.Time, lifetime time.Duration) (Signed, error) {
	if err := checkLifetime(lifetime); err != nil {
		return Signed{}, err
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Signed{}, errors.New("presigning: credentials have no access key ID or secret")
	}
	set, err := joinRegionSet(regionSet)
	if err != nil {
		return Signed{}, err
	}
	key, err := v4aKeys.key(c)
	if err != nil {
		return Signed{}, err
	}
	w := getWork()
	defer w.release()
	amzDate := appendAmzDate(nil, now)
	if r.Header == nil {
		r.Header = http.Header{}
	}
	// The region set is in the query; a header copy would be signed as well
	// and could disagree with it.
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
	b = append(b, "X-Amz-Algorithm="+algorithmV4A+"&X-Amz-Credential="...)
	b = appendEncoded(b, c.AccessKeyID+"/"+string(appendScope(nil, amzDate[:8], "", p.Service)), false)
	b = append(b, "&X-Amz-Date="...)
	b = append(b, amzDate...)
	b = append(b, "&X-Amz-Expires="...)
	b = strconv.AppendInt(b, int64(lifetime/time.Second), 10)
	b = append(b, "&X-Amz-Region-Set="...)
	b = appendEncoded(b, set, false)
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
	buildStringToSign(w, algorithmV4A, amzDate, "", p.Service)
	sig, err := signECDSA(key, w.sts)
	if err != nil {
		return Signed{}, err
	}
	if p.TokenAfterSigning {
		r.URL.RawQuery += token
	}
	r.URL.RawQuery += "&X-Amz-Signature=" + sig
	return Signed{string(w.creq), string(w.sts), sig}, nil
}
