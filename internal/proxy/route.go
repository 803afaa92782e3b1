package proxy

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// CredentialsFunc returns the credentials to sign with. It is called once per
// request, so it must serve from a cache.
type CredentialsFunc func(ctx context.Context) (sigv4.Credentials, error)

// Route is one upstream and how requests to it are signed.
type Route struct {
	Name    string
	Target  *url.URL
	Service string
	Region  string
	// Credentials supplies the signing keys.
	Credentials CredentialsFunc
	// Payload says how bodies are signed; "" is PayloadAuto.
	Payload PayloadMode
	// SignQuery signs in the query string (a presigned URL) valid for
	// Lifetime, instead of an Authorization header.
	SignQuery bool
	Lifetime  time.Duration
	// Headers is the signed-header policy; nil signs all but the never-signed.
	Headers *sigv4.HeaderPolicy
	// MaxBodyBytes caps bodies that must be hashed before sending.
	MaxBodyBytes int64
	// SpoolMemoryBytes of a hashed body stay in memory; the rest goes to a
	// temporary file in SpoolDir (os.TempDir() when empty).
	SpoolMemoryBytes int64
	SpoolDir         string
	// SigningAlgorithm is "sigv4" (the default) or "sigv4a"; SigV4A signs
	// for every region of RegionSet (default: Region; "*" and "us-east-*"
	// patterns allowed), for S3 Multi-Region Access Points and the like.
	SigningAlgorithm string
	RegionSet        []string

	params        sigv4.Params // precomputed once: shared read-only by requests
	s3            bool
	tls           bool
	v4a           bool
	virtualHosted bool // S3 with the bucket in the host: the path is the key
}

// Defaults for the body limits.
const (
	DefaultMaxBodyBytes     = 5 << 30 // S3's single PUT limit
	DefaultSpoolMemoryBytes = 1 << 20
)

func (rt *Route) prepare() error {
	if rt.Target == nil || rt.Target.Host == "" || (rt.Target.Scheme != "http" && rt.Target.Scheme != "https") {
		return fmt.Errorf("route %q: the upstream URL must be absolute http(s), like https://bucket.s3.us-east-1.amazonaws.com", rt.Name)
	}
	if rt.Service == "" || rt.Region == "" {
		return fmt.Errorf("route %q: service and region are required", rt.Name)
	}
	if rt.Credentials == nil {
		return fmt.Errorf("route %q: no credentials", rt.Name)
	}
	if rt.Payload == "" {
		rt.Payload = PayloadAuto
	}
	if _, err := ParsePayloadMode(string(rt.Payload)); err != nil {
		return fmt.Errorf("route %q: %w", rt.Name, err)
	}
	if rt.SignQuery {
		if rt.Lifetime == 0 {
			rt.Lifetime = 15 * time.Minute
		}
		if rt.Lifetime < time.Second || rt.Lifetime > 7*24*time.Hour {
			return fmt.Errorf("route %q: signature lifetime %s must be between 1s and 7 days", rt.Name, rt.Lifetime)
		}
	}
	if rt.MaxBodyBytes <= 0 {
		rt.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if rt.SpoolMemoryBytes <= 0 {
		rt.SpoolMemoryBytes = DefaultSpoolMemoryBytes
	}
	switch strings.ToLower(rt.SigningAlgorithm) {
	case "", "sigv4":
	case "sigv4a":
		rt.v4a = true
		if len(rt.RegionSet) == 0 {
			rt.RegionSet = []string{rt.Region}
		}
		for _, r := range rt.RegionSet {
			if r == "" || strings.ContainsAny(r, ", \t") {
				return fmt.Errorf("route %q: region set entry %q must be a region or a pattern such as us-east-* or *", rt.Name, r)
			}
		}
	default:
		return fmt.Errorf("route %q: signing algorithm %q is not sigv4 or sigv4a", rt.Name, rt.SigningAlgorithm)
	}
	rt.s3 = sigv4.PathModeFor(rt.Service) == sigv4.PathS3
	rt.virtualHosted = rt.s3 && virtualHostedS3(rt.Target.Host)
	rt.tls = rt.Target.Scheme == "https"
	rt.params = sigv4.Params{Service: rt.Service, Region: rt.Region, Headers: rt.Headers,
		// S3 refuses requests without it; elsewhere it is harmless and lets
		// services such as OpenSearch Serverless and Lambda URLs check the body.
		ContentSHA256Header: !rt.SignQuery}
	if rt.v4a {
		rt.params.Algorithm, rt.params.RegionSet = sigv4.SigV4A, rt.RegionSet
	}
	return nil
}
