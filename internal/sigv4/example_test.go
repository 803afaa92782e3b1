package sigv4_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// Signing a request in place, as the proxy does on a clone at send time.
func ExampleSigner_Sign() {
	signer := sigv4.NewSigner(nil) // a fresh signing-key cache
	creds := sigv4.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	params := &sigv4.Params{Service: "s3", Region: "us-east-1", PayloadHash: sigv4.UnsignedPayload, ContentSHA256Header: true}

	r, _ := http.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/reports/2026 Q1(a+b).csv", nil)
	if err := signer.Sign(r, creds, params, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)); err != nil {
		panic(err)
	}
	fmt.Println(r.URL.EscapedPath())           // the S3 path goes out in the encoding that was signed
	fmt.Println(r.Header.Get("Authorization")) // botocore's S3SigV4Auth gives the same signature
	// Output:
	// /reports/2026%20Q1%28a%2Bb%29.csv
	// AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0178e8f10d5ccc8b6e985c8eda0f47caf608c57a552e9d4c33f8244dc6e7a0dd
}

// Verifying a request, as an upstream or inbound authentication does.
func ExampleVerify() {
	creds := sigv4.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	r, _ := http.NewRequest(http.MethodGet, "https://abc.execute-api.eu-west-1.amazonaws.com/prod/orders", nil)
	sigv4.NewSigner(nil).Sign(r, creds, &sigv4.Params{Service: "execute-api", Region: "eu-west-1"}, now)

	lookup := func(id string) (sigv4.Credentials, error) { return creds, nil }
	v, err := sigv4.Verify(r, sigv4.VerifyOptions{Now: now.Add(time.Minute), Lookup: lookup})
	fmt.Println(v.AccessKeyID, v.Service, v.Region, err)

	_, err = sigv4.Verify(r, sigv4.VerifyOptions{Now: now.Add(time.Hour), Lookup: lookup})
	fmt.Println(err != nil)
	// Output:
	// AKIDEXAMPLE execute-api eu-west-1 <nil>
	// true
}
