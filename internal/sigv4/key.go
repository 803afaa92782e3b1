package sigv4

import (
	"crypto/sha256"
	"encoding"
	"hash"
	"sync"
)

// hmacSHA256 computes HMAC-SHA256 without the allocations of crypto/hmac: the
// hot path signs one short string with a cached key per request.
func hmacSHA256(key []byte, msg []byte, scratch []byte) ([32]byte, []byte) {
	var k [64]byte
	if len(key) > 64 {
		s := sha256.Sum256(key)
		copy(k[:], s[:])
	} else {
		copy(k[:], key)
	}
	buf := scratch[:0]
	for _, b := range k {
		buf = append(buf, b^0x36)
	}
	buf = append(buf, msg...)
	inner := sha256.Sum256(buf)
	buf = buf[:0]
	for _, b := range k {
		buf = append(buf, b^0x5c)
	}
	buf = append(buf, inner[:]...)
	return sha256.Sum256(buf), buf
}

// DeriveKey computes the SigV4 signing key for a secret, a date (YYYYMMDD), a
// region and a service.
func DeriveKey(secret, date, region, service string) [32]byte {
	scratch := make([]byte, 0, 160)
	k := make([]byte, 0, 4+len(secret))
	k = append(append(k, "AWS4"...), secret...)
	var sum [32]byte
	for _, part := range [...]string{date, region, service, "aws4_request"} {
		sum, scratch = hmacSHA256(k, []byte(part), scratch)
		k = sum[:]
	}
	return sum
}

type keyID struct {
	secret, region, service string
	date                    [8]byte
}

// signingKey is a derived key with the SHA-256 states after its HMAC inner
// and outer pad blocks, so each signature hashes two blocks fewer.
type signingKey struct {
	raw          [32]byte
	inner, outer []byte // sha256 digest states, MarshalBinary form
}

func newSigningKey(raw [32]byte) *signingKey {
	k := &signingKey{raw: raw}
	var pad [64]byte
	h := sha256.New()
	for i, x := range [2]byte{0x36, 0x5c} {
		for j := range pad {
			pad[j] = x
			if j < len(raw) {
				pad[j] ^= raw[j]
			}
		}
		h.Reset()
		h.Write(pad[:])
		state, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
		if i == 0 {
			k.inner = state
		} else {
			k.outer = state
		}
	}
	return k
}

// mac returns HMAC-SHA256(key, msg), using h (a sha256 digest) and scratch
// as working space.
func (k *signingKey) mac(h hash.Hash, msg, scratch []byte) [32]byte {
	u := h.(encoding.BinaryUnmarshaler)
	u.UnmarshalBinary(k.inner) // cannot fail: the state came from MarshalBinary
	h.Write(msg)
	inner := h.Sum(scratch[:0])
	u.UnmarshalBinary(k.outer)
	h.Write(inner)
	// The outer sum goes into inner's bytes, already written: a local
	// array handed to the interface's Sum would escape, one allocation per
	// signature.
	var sum [32]byte
	copy(sum[:], h.Sum(inner[:0]))
	return sum
}

// KeyCache caches derived signing keys per (secret, date, region, service): a
// key is valid for one UTC day, and deriving it costs four HMACs.
type KeyCache struct {
	mu   sync.RWMutex
	keys map[keyID]*signingKey
}

// maxCachedKeys bounds the cache; past it the cache starts again, which costs a
// few derivations and keeps memory flat however many callers and days pass.
const maxCachedKeys = 4096

// NewKeyCache returns an empty cache, safe for concurrent use.
func NewKeyCache() *KeyCache { return &KeyCache{keys: map[keyID]*signingKey{}} }

// Key returns the signing key, deriving and caching it when absent.
func (c *KeyCache) Key(secret string, date [8]byte, region, service string) [32]byte {
	return c.signingKey(secret, date, region, service).raw
}

func (c *KeyCache) signingKey(secret string, date [8]byte, region, service string) *signingKey {
	id := keyID{secret: secret, region: region, service: service, date: date}
	c.mu.RLock()
	k, ok := c.keys[id]
	c.mu.RUnlock()
	if ok {
		return k
	}
	k = newSigningKey(DeriveKey(secret, string(date[:]), region, service))
	c.mu.Lock()
	if len(c.keys) >= maxCachedKeys {
		clear(c.keys)
	}
	c.keys[id] = k
	c.mu.Unlock()
	return k
}
