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
	"strings"
	"sync"
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

func v4aScheme(c Credentials, regionSet []string) (scheme, error) {
	set, err := joinRegionSet(regionSet)
	if err != nil {
		return scheme{}, err
	}
	// Derived before the request is touched, so a failure leaves it as it was.
	key, err := v4aKeys.key(c)
	if err != nil {
		return scheme{}, err
	}
	return scheme{algorithm: algorithmV4A, regionSet: set, key: key}, nil
}
