package proxy

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/sigv4"
)

// CredentialsFunc returns the credentials to sign with. It is called once per
// request, so it must serve from a cache.
type CredentialsFunc func(ctx context.Context) (sigv4.Credentials, error)

// Route is one upstream and how requests to it are signed. Its settings come
// from a validated config (config.Validate checks what a user wrote); a zero
// setting takes config's default, and prepare reports only what no valid
// config produces.
type Route struct {
	Name    string
	Target  *url.URL
	Service string
	Region  string
	// Credentials supplies the signing keys.
	Credentials CredentialsFunc
	// CredentialSource names where Credentials come from ("static keys
	// AKIA...", "assume role ARN"): the label of credential error metrics.
	CredentialSource string
	// Payload says how bodies are signed; "" is config.DefaultPayload.
	Payload config.PayloadMode
	// SignQuery signs in the query string (a presigned URL) valid for
	// Lifetime (0: config.DefaultLifetime), instead of an Authorization
	// header.
	SignQuery bool
	Lifetime  time.Duration
	// Headers is the signed-header policy; nil signs all but the never-signed.
	Headers *sigv4.HeaderPolicy
	// MaxBodyBytes caps bodies that must be hashed before sending; 0 is
	// config.DefaultMaxBodySize.
	MaxBodyBytes int64
	// SpoolMemoryBytes of a hashed body stay in memory; the rest goes to a
	// temporary file in SpoolDir (os.TempDir() when empty).
	SpoolMemoryBytes int64
	SpoolDir         string
	// BodyIdleTimeout ends a request whose body makes no progress for this
	// long: a caller that stops sending gets 408, an upstream that stops
	// reading 504. 0 is config.DefaultBodyIdleTimeout; less than 0 is none.
	BodyIdleTimeout time.Duration
	// ResponseTimeout bounds the wait for the upstream's response headers
	// once the whole request, body included, has been sent: 504 after it.
	// 0 is config.DefaultResponseTimeout; less than 0 is none.
	ResponseTimeout time.Duration
	// SigningAlgorithm is sigv4 ("" too) or sigv4a; SigV4A signs for every
	// region of RegionSet (default: Region; "*" and "us-east-*" patterns
	// allowed), for S3 Multi-Region Access Points and the like.
	SigningAlgorithm config.Algorithm
	RegionSet        []string
	// Debug logs each request's canonical request, string to sign and
	// signed header names (secrets redacted), at info level.
	Debug bool
	// MaxAttempts bounds how often an idempotent, replayable request is
	// sent when the upstream fails before answering or S3 says SlowDown
	// (re-signed each time); 1 sends once, 0 is config.DefaultMaxAttempts.
	MaxAttempts int

	params        sigv4.Params // precomputed once: shared read-only by requests
	s3            bool
	tls           bool
	v4a           bool
	virtualHosted bool // S3 with the bucket in the host: the path is the key
	spoolBudget   *SpoolBudget
}

// DefaultSpoolMemoryBytes of a hashed body stay in memory: what a stalled
// upload may hold.
const DefaultSpoolMemoryBytes = 256 << 10

// prepare fills the zero settings with their defaults and precomputes what
// every request needs. Its errors are programming errors (a Route no valid
// config yields), so they name the Route field, not a setting of the user's.
func (rt *Route) prepare() error {
	if rt.Target == nil || rt.Target.Host == "" || (rt.Target.Scheme != "http" && rt.Target.Scheme != "https") {
		return fmt.Errorf("route %q: Target must be an absolute http(s) URL, got %v", rt.Name, rt.Target)
	}
	if rt.Credentials == nil {
		return fmt.Errorf("route %q: Credentials is nil", rt.Name)
	}
	if rt.Payload == "" {
		rt.Payload = config.DefaultPayload
	}
	if !slices.Contains(config.PayloadModes(), rt.Payload) {
		return fmt.Errorf("route %q: Payload %q is not a payload mode", rt.Name, rt.Payload)
	}
	if rt.SignQuery && rt.Lifetime == 0 {
		rt.Lifetime = config.DefaultLifetime.D()
	}
	if rt.SignQuery && (rt.Lifetime < config.MinLifetime.D() || rt.Lifetime > config.MaxLifetime.D()) {
		return fmt.Errorf("route %q: Lifetime %s is outside [%s, %s]", rt.Name, rt.Lifetime, config.MinLifetime, config.MaxLifetime)
	}
	if rt.MaxBodyBytes <= 0 {
		rt.MaxBodyBytes = int64(config.DefaultMaxBodySize)
	}
	if rt.SpoolMemoryBytes <= 0 {
		rt.SpoolMemoryBytes = DefaultSpoolMemoryBytes
	}
	if rt.MaxAttempts <= 0 {
		rt.MaxAttempts = config.DefaultMaxAttempts
	}
	switch rt.SigningAlgorithm {
	case "", config.SigV4:
	case config.SigV4A:
		rt.v4a = true
		if len(rt.RegionSet) == 0 && rt.Region != "" {
			rt.RegionSet = []string{rt.Region}
		}
		if len(rt.RegionSet) == 0 || slices.ContainsFunc(rt.RegionSet, func(r string) bool { return r == "" || strings.ContainsAny(r, ", \t") }) {
			return fmt.Errorf("route %q: RegionSet %q must list regions or patterns", rt.Name, rt.RegionSet)
		}
	default:
		return fmt.Errorf("route %q: SigningAlgorithm %q is not sigv4 or sigv4a", rt.Name, rt.SigningAlgorithm)
	}
	// SigV4A scopes signatures to RegionSet; Region is not used.
	if rt.Service == "" || rt.Region == "" && !rt.v4a {
		return fmt.Errorf("route %q: Service and Region are required", rt.Name)
	}
	rt.s3 = sigv4.PathModeFor(rt.Service) == sigv4.PathS3
	rt.virtualHosted = rt.s3 && virtualHostedS3(rt.Target.Host)
	rt.tls = rt.Target.Scheme == "https"
	rt.params = sigv4.Params{Service: rt.Service, Region: rt.Region, Headers: rt.Headers,
		// S3 refuses requests without it; elsewhere it is harmless and lets
		// services such as OpenSearch Serverless and Lambda URLs check the body.
		ContentSHA256Header: !rt.SignQuery,
		// AWS IoT's MQTT-over-WebSocket URL is presigned without the session
		// token, which is appended after the signature.
		TokenAfterSigning: rt.Service == "iotdevicegateway"}
	if rt.v4a {
		rt.params.Algorithm, rt.params.RegionSet = sigv4.SigV4A, rt.RegionSet
	}
	return nil
}
