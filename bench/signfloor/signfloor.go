// Package signfloor holds the least a signing proxy can do: RoundTrippers
// that clone each request, sign it and send it, nothing else. make bench
// (bench/loadbench) and go test -bench GatewayGET (internal/gateway) put
// them behind a bare httputil.ReverseProxy to measure what signing itself
// costs, the floor under signway's own figures.
package signfloor

import (
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signway/signway/internal/sigv4"
)

// Credentials are the fixed dummy keys both floors sign with.
var Credentials = sigv4.Credentials{AccessKeyID: "AKIDLOADBENCHEXAMPLE", SecretAccessKey: "loadbench/dummy/secret/not/a/real/key"}

// Transport clones each request, signs the clone and sends it: the
// signer's work and the signed headers on the wire, with none of signway's
// request IDs, metrics, timeouts, credential chain or payload checks.
// Bodies are sent unsigned (GETs, the benchmarks' load, have none).
type Transport struct {
	base http.RoundTripper
	// sign signs out for payloadHash, which it also sends as
	// X-Amz-Content-Sha256, as signway does.
	sign func(out *http.Request, payloadHash string) error
}

// NewSignway signs with signway's own signer (internal/sigv4) for service
// in region and sends through base.
func NewSignway(base http.RoundTripper, service, region string) *Transport {
	signer := sigv4.NewSigner(sigv4.NewKeyCache())
	params := sigv4.Params{Service: service, Region: region, ContentSHA256Header: true}
	return &Transport{base: base, sign: func(out *http.Request, payloadHash string) error {
		p := params
		p.PayloadHash = payloadHash
		return signer.Sign(out, Credentials, &p, time.Now())
	}}
}

// NewSDK signs with aws-sdk-go-v2's signer, as awslabs/aws-sigv4-proxy does
// with its SDK, for service in region and sends through base.
func NewSDK(base http.RoundTripper, service, region string) *Transport {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: Credentials.AccessKeyID, SecretAccessKey: Credentials.SecretAccessKey}
	return &Transport{base: base, sign: func(out *http.Request, payloadHash string) error {
		out.Header.Set("X-Amz-Content-Sha256", payloadHash)
		return signer.SignHTTP(out.Context(), creds, out, payloadHash, service, region, time.Now())
	}}
}

// RoundTrip signs a clone of r and sends it.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	hash := sigv4.EmptyPayloadHash
	if out.Body != nil && out.Body != http.NoBody {
		hash = sigv4.UnsignedPayload
	}
	if err := t.sign(out, hash); err != nil {
		if out.Body != nil {
			out.Body.Close()
		}
		return nil, fmt.Errorf("signing: %w", err)
	}
	return t.base.RoundTrip(out)
}
