package sigv4

import (
	"testing"
	"time"
)

// BenchmarkSignV4A is BenchmarkSignGET with SigV4A: the key is
// cached after the first iteration, so this is canonicalisation plus one
// ECDSA signature.
func BenchmarkSignV4A(b *testing.B) {
	s := NewSigner(nil)
	p := &Params{Service: "s3", PayloadHash: UnsignedPayload, ContentSHA256Header: true, Algorithm: SigV4A, RegionSet: []string{"*"}}
	now := time.Now()
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Sign(r, exampleCreds, p, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeriveKeyV4A is what a cache miss costs.
func BenchmarkDeriveKeyV4A(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := deriveKeyV4A(exampleCreds.AccessKeyID, exampleCreds.SecretAccessKey); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyECDSA is the inbound verifier's cost for a SigV4A request.
func BenchmarkVerifyECDSA(b *testing.B) {
	sts := []byte("AWS4-ECDSA-P256-SHA256\n20150830T123600Z\n20150830/s3/aws4_request\n00")
	k, err := v4aKeys.key(exampleCreds)
	if err != nil {
		b.Fatal(err)
	}
	sig, _ := signECDSA(k, sts)
	b.ReportAllocs()
	for b.Loop() {
		if !verifyECDSA(exampleCreds, sts, sig) {
			b.Fatal("rejected")
		}
	}
}
