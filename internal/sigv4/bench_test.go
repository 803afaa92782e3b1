package sigv4

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4sdk "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func benchRequest() *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "https://examplebucket.s3.us-east-1.amazonaws.com/photos/2024/cat.jpg?versionId=3", nil)
	r.Header.Set("Accept", "*/*")
	r.Header.Set("User-Agent", "curl/8.5.0")
	return r
}

// BenchmarkSignGET is the proxy's hot path: one GET, key cached.
func BenchmarkSignGET(b *testing.B) {
	s := NewSigner(nil)
	p := &Params{Service: "s3", Region: "us-east-1", PayloadHash: UnsignedPayload, ContentSHA256Header: true}
	now := time.Now()
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Sign(r, exampleCreds, p, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSDKSignHTTPGET is aws-sdk-go-v2's signer on the same request, for
// the ratio in docs/performance.md.
func BenchmarkSDKSignHTTPGET(b *testing.B) {
	s := v4sdk.NewSigner()
	creds := aws.Credentials{AccessKeyID: exampleCreds.AccessKeyID, SecretAccessKey: exampleCreds.SecretAccessKey}
	now := time.Now()
	r := benchRequest()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.SignHTTP(ctx, creds, r, UnsignedPayload, "s3", "us-east-1", now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeriveKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		DeriveKey(exampleCreds.SecretAccessKey, "20150830", "us-east-1", "s3")
	}
}
