// Package awssign signs outgoing HTTP requests for AWS with Signature
// Version 4 or 4A: an [http.RoundTripper] for Go programs and gateways
// that want signway's signing without running signway.
//
// It is the same code the signway gateway runs: the canonicalisation that
// passes every official test vector, S3's path encoding, the payload modes
// (bodies hashed in bounded memory, S3 streaming chunk signatures, unsigned
// payloads), SigV4A region sets, presigned URLs, and credentials from any
// aws-sdk-go-v2 provider, cached and refreshed before they expire.
//
//	tr, err := awssign.New(awssign.Options{Service: "execute-api", Region: "eu-west-1"})
//	client := &http.Client{Transport: tr}
//	resp, err := client.Get("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/items")
//
// Each request is signed at send time on a clone; the request passed in is
// not changed. A request that cannot be signed (no credentials, a body
// whose x-amz-content-sha256 does not match, a body over MaxBodyBytes)
// fails with an error that says why, and nothing is sent.
package awssign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/credentials"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

// Payload says how a request body is covered by the signature.
type Payload string

const (
	// PayloadAuto signs S3 uploads (PutObject, UploadPart) with streaming
	// chunk signatures and hashes other bodies; what the gateway's auto does.
	PayloadAuto Payload = "auto"
	// PayloadUnsigned signs UNSIGNED-PAYLOAD: the body streams untouched.
	PayloadUnsigned Payload = "unsigned"
	// PayloadSigned hashes every body before sending it (spooled in memory,
	// then a temporary file).
	PayloadSigned Payload = "signed"
	// PayloadStreaming sends every S3 body of known length as aws-chunked
	// with each chunk signed.
	PayloadStreaming Payload = "streaming"
)

// Algorithm is the signing algorithm.
type Algorithm string

const (
	SigV4  Algorithm = "sigv4"  // AWS4-HMAC-SHA256, for one region
	SigV4A Algorithm = "sigv4a" // AWS4-ECDSA-P256-SHA256, for a region set
)

// Options configure a Transport. Service and Region are required.
type Options struct {
	// Service is the signing name: s3, execute-api, lambda, es, aoss, ...
	Service string
	// Region is the signing region.
	Region string
	// Credentials sign the requests; nil means the AWS SDK's default chain
	// (environment, shared files, web identity, container, IMDS). They are
	// cached and refreshed five minutes before they expire. When the provider
	// fails, the error names it and says why in general terms, never with the
	// provider's own text (an SDK provider's may quote credentials).
	Credentials aws.CredentialsProvider
	// Payload is how bodies are signed; "" is PayloadAuto.
	Payload Payload
	// Algorithm is SigV4 ("" too) or SigV4A.
	Algorithm Algorithm
	// RegionSet is SigV4A's region set ("*" and "us-east-*" allowed);
	// empty means Region.
	RegionSet []string
	// Presign signs in the query string (a presigned URL) valid for
	// PresignLifetime (default 15 minutes, at most 7 days) instead of an
	// Authorization header.
	Presign         bool
	PresignLifetime time.Duration
	// MaxBodyBytes bounds a body that must be hashed before it is sent;
	// default 5 GiB.
	MaxBodyBytes int64
	// Base sends the signed requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Logger receives credential refreshes and failures; nil discards.
	Logger *slog.Logger
}

// maxHosts bounds the per-host routes a Transport keeps.
const maxHosts = 1024

// Transport is an http.RoundTripper that signs each request. It is safe
// for concurrent use.
type Transport struct {
	o     Options
	creds proxy.CredentialsFunc
	keys  *sigv4.KeyCache

	mu     sync.Mutex
	byHost map[string]http.RoundTripper // one prepared route per scheme://host
}

// New checks o and returns a Transport. With nil Credentials it loads the
// AWS SDK's configuration (no credentials are fetched until the first
// request).
func New(o Options) (*Transport, error) {
	if o.Service == "" || o.Region == "" {
		return nil, errors.New("awssign: Options.Service and Options.Region are required")
	}
	switch o.Payload {
	case "", PayloadAuto, PayloadUnsigned, PayloadSigned, PayloadStreaming:
	default:
		return nil, fmt.Errorf("awssign: Payload %q is not auto, unsigned, signed or streaming", o.Payload)
	}
	switch o.Algorithm {
	case "", SigV4, SigV4A:
	default:
		return nil, fmt.Errorf("awssign: Algorithm %q is not sigv4 or sigv4a", o.Algorithm)
	}
	if o.Presign && o.PresignLifetime != 0 && (o.PresignLifetime < time.Second || o.PresignLifetime > 7*24*time.Hour) {
		return nil, fmt.Errorf("awssign: PresignLifetime %s must be between 1s and 7 days", o.PresignLifetime)
	}
	if o.Base == nil {
		o.Base = http.DefaultTransport
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var p credentials.Provider
	if o.Credentials != nil {
		p = credentials.FromAWS(o.Credentials, "the given credentials provider")
	} else {
		var err error
		if p, err = credentials.DefaultChain(context.Background(), credentials.ChainOptions{Region: o.Region}); err != nil {
			return nil, fmt.Errorf("awssign: %w", err)
		}
	}
	cache := credentials.NewCache(p, credentials.CacheOptions{Logger: log})
	t := &Transport{o: o, keys: sigv4.NewKeyCache(), byHost: map[string]http.RoundTripper{},
		creds: func(ctx context.Context) (sigv4.Credentials, error) {
			c, err := cache.Retrieve(ctx)
			if err != nil {
				return sigv4.Credentials{}, err
			}
			sc := sigv4.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
			if c.CanExpire {
				sc.Expires = c.Expires
			}
			return sc, nil
		}}
	return t, nil
}

// RoundTrip signs a clone of r and sends it with Options.Base.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt, err := t.forHost(r.URL)
	if err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	return rt.RoundTrip(r)
}

// forHost returns the signing transport for u's scheme and host: the
// gateway's routes are per upstream, and S3's rules depend on the host
// (virtual-hosted buckets).
func (t *Transport) forHost(u *url.URL) (http.RoundTripper, error) {
	key := u.Scheme + "://" + u.Host
	t.mu.Lock()
	defer t.mu.Unlock()
	if rt, ok := t.byHost[key]; ok {
		return rt, nil
	}
	if len(t.byHost) >= maxHosts {
		clear(t.byHost) // a client of very many hosts rebuilds; nothing is lost but a map entry
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("awssign: cannot sign a request to %q: the URL must be absolute http(s)", u.Redacted())
	}
	route := &proxy.Route{Name: key, Target: &url.URL{Scheme: u.Scheme, Host: u.Host}, Service: t.o.Service, Region: t.o.Region,
		Credentials: t.creds, Payload: config.PayloadMode(t.o.Payload), SignQuery: t.o.Presign, Lifetime: t.o.PresignLifetime,
		MaxBodyBytes: t.o.MaxBodyBytes, SigningAlgorithm: config.Algorithm(t.o.Algorithm), RegionSet: t.o.RegionSet}
	rt, err := proxy.NewSigningTransport(route, t.o.Base, t.keys, nil)
	if err != nil {
		return nil, fmt.Errorf("awssign: %w", err)
	}
	t.byHost[key] = rt
	return rt, nil
}
