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

// Credentials are the fixed dummy keys both transports sign with.
var Credentials = sigv4.Credentials{AccessKeyID: "AKIDLOADBENCHEXAMPLE", SecretAccessKey: "loadbench/dummy/secret/not/a/real/key"}

// SDK clones the request, signs it with aws-sdk-go-v2's signer and sends
// it, as awslabs/aws-sigv4-proxy does with its SDK: the signer's work and
// the signed headers on the wire, with none of signway's request IDs,
// metrics, timeouts, credential chain or payload checks. Bodies are sent
// unsigned (GETs, the benchmarks' load, have none).
type SDK struct {
	base    http.RoundTripper
	signer  *v4.Signer
	creds   aws.Credentials
	service string
	region  string
}

// NewSDK signs for service in region and sends through base.
func NewSDK(base http.RoundTripper, service, region string) *SDK {
	return &SDK{
		base:    base,
		signer:  v4.NewSigner(),
		creds:   aws.Credentials{AccessKeyID: Credentials.AccessKeyID, SecretAccessKey: Credentials.SecretAccessKey},
		service: service,
		region:  region,
	}
}

// RoundTrip signs a clone of r and sends it.
func (t *SDK) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	hash := sigv4.EmptyPayloadHash
	if out.Body != nil && out.Body != http.NoBody {
		hash = sigv4.UnsignedPayload
	}
	// Sent and signed as signway does, so both put the same headers on
	// the wire.
	out.Header.Set("X-Amz-Content-Sha256", hash)
	if err := t.signer.SignHTTP(r.Context(), t.creds, out, hash, t.service, t.region, time.Now()); err != nil {
		if out.Body != nil {
			out.Body.Close()
		}
		return nil, fmt.Errorf("signing: %w", err)
	}
	return t.base.RoundTrip(out)
}

// Signway is the same floor with signway's own signer (internal/sigv4)
// instead of the SDK's: a clone, a signature, nothing else.
type Signway struct {
	base   http.RoundTripper
	signer *sigv4.Signer
	creds  sigv4.Credentials
	params sigv4.Params
}

// NewSignway signs for service in region and sends through base.
func NewSignway(base http.RoundTripper, service, region string) *Signway {
	return &Signway{
		base:   base,
		signer: sigv4.NewSigner(sigv4.NewKeyCache()),
		creds:  Credentials,
		params: sigv4.Params{Service: service, Region: region, ContentSHA256Header: true},
	}
}

// RoundTrip signs a clone of r and sends it.
func (t *Signway) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	p := t.params
	p.PayloadHash = sigv4.EmptyPayloadHash
	if out.Body != nil && out.Body != http.NoBody {
		p.PayloadHash = sigv4.UnsignedPayload
	}
	if err := t.signer.Sign(out, t.creds, &p, time.Now()); err != nil {
		if out.Body != nil {
			out.Body.Close()
		}
		return nil, fmt.Errorf("signing: %w", err)
	}
	return t.base.RoundTrip(out)
}
