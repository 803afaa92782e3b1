package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
	"time"
)

// TestSigningKeyMACMatchesCryptoHMAC pins the precomputed-state HMAC to the
// standard library's.
func TestSigningKeyMACMatchesCryptoHMAC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := sha256.New()
	for i := range 200 {
		var raw [32]byte
		for j := range raw {
			raw[j] = byte(rng.Uint32())
		}
		msg := make([]byte, rng.IntN(400))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		ref := hmac.New(sha256.New, raw[:])
		ref.Write(msg)
		if got := newSigningKey(raw).mac(h, msg, make([]byte, 0, 64)); string(got[:]) != string(ref.Sum(nil)) {
			t.Fatalf("case %d: HMAC differs from crypto/hmac", i)
		}
	}
	var sum [32]byte
	copy(sum[:], hmacSHA256Ref([]byte("AWS4secret"), "20150830"))
	if got, _ := hmacSHA256([]byte("AWS4secret"), []byte("20150830"), nil); got != sum {
		t.Fatal("hmacSHA256 differs from crypto/hmac")
	}
}

func hmacSHA256Ref(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func TestAppendAmzDateMatchesTimeFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	zones := []*time.Location{time.UTC, time.FixedZone("east", 14*3600), time.FixedZone("west", -12*3600)}
	for range 2000 {
		ts := time.Unix(rng.Int64N(253402300799), 0).In(zones[rng.IntN(len(zones))]) // years 1970-9999
		if got, want := string(appendAmzDate(nil, ts)), ts.UTC().Format(amzDateFmt); got != want {
			t.Fatalf("appendAmzDate(%v) = %s, want %s", ts, got, want)
		}
	}
}
