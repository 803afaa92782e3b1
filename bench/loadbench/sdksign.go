package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signway/signway/internal/sigv4"
)

// emptyPayloadHash is the hex SHA-256 of an empty body.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// sdkSigningTransport is the least a signing proxy can do: clone the
// request, sign it with aws-sdk-go-v2's signer and send it, as
// awslabs/aws-sigv4-proxy does with its SDK. It is the floor of what
// signing costs on top of the bare proxy: the signer's work and the signed
// headers on the wire, with none of signway's request IDs, metrics,
// timeouts, credential chain or payload checks. Bodies are sent unsigned
// (GETs, the benchmark's load, have none).
type sdkSigningTransport struct {
	base    http.RoundTripper
	signer  *v4.Signer
	creds   aws.Credentials
	service string
	region  string
}

func newSDKSigningTransport(base http.RoundTripper, service, region string) *sdkSigningTransport {
	return &sdkSigningTransport{
		base:    base,
		signer:  v4.NewSigner(),
		creds:   aws.Credentials{AccessKeyID: "AKIDLOADBENCHEXAMPLE", SecretAccessKey: "loadbench/dummy/secret/not/a/real/key"},
		service: service,
		region:  region,
	}
}

func (t *sdkSigningTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	hash := emptyPayloadHash
	if out.Body != nil && out.Body != http.NoBody {
		hash = "UNSIGNED-PAYLOAD"
	}
	// Sent and signed as signway does, so both put the same headers on
	// the wire.
	out.Header.Set("X-Amz-Content-Sha256", hash)
	if err := t.signer.SignHTTP(context.Background(), t.creds, out, hash, t.service, t.region, time.Now()); err != nil {
		if out.Body != nil {
			out.Body.Close()
		}
		return nil, fmt.Errorf("signing: %w", err)
	}
	return t.base.RoundTrip(out)
}

// parseSign reads bareproxy's -sign flag: SERVICE/REGION.
func parseSign(v string) (service, region string, err error) {
	service, region, ok := strings.Cut(v, "/")
	if !ok || service == "" || region == "" {
		return "", "", fmt.Errorf("bareproxy: -sign %q is not SERVICE/REGION, such as execute-api/us-east-1", v)
	}
	return service, region, nil
}

// minSigningTransport is the same floor with signway's own signer instead
// of the SDK's: a clone, a signature, nothing else.
type minSigningTransport struct {
	base   http.RoundTripper
	signer *sigv4.Signer
	creds  sigv4.Credentials
	params sigv4.Params
}

func newMinSigningTransport(base http.RoundTripper, service, region string) *minSigningTransport {
	return &minSigningTransport{
		base:   base,
		signer: sigv4.NewSigner(sigv4.NewKeyCache()),
		creds:  sigv4.Credentials{AccessKeyID: "AKIDLOADBENCHEXAMPLE", SecretAccessKey: "loadbench/dummy/secret/not/a/real/key"},
		params: sigv4.Params{Service: service, Region: region, ContentSHA256Header: true},
	}
}

func (t *minSigningTransport) RoundTrip(r *http.Request) (*http.Response, error) {
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
