package inbound

import (
	"context"

	"github.com/signway/signway/internal/sigv4"
)

// Method is how a caller proved who it is.
type Method string

// The methods, as written in the config's auth.methods.
const (
	MethodAPIKey Method = "api_key"
	MethodSigV4  Method = "sigv4"
	MethodJWT    Method = "jwt"
	MethodMTLS   Method = "mtls"
)

// CredentialsFunc returns the AWS credentials to sign with for one caller;
// it serves from a cache.
type CredentialsFunc func(ctx context.Context) (sigv4.Credentials, error)

// Caller is an authenticated caller.
type Caller struct {
	// ID is the caller's id from the config, or a JWT caller's claim.
	ID string
	// Method is how it authenticated.
	Method Method
	// AccessKeyID is the signway-issued key a SigV4 caller signed with.
	AccessKeyID string
	// Credentials, when set, are the caller's own AWS credentials, which
	// replace the route's.
	Credentials CredentialsFunc
	// Declared reports a caller declared in the config (rather than a JWT
	// subject seen for the first time): its id may label metrics.
	Declared bool
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the authenticated caller of the request whose context
// is ctx, or nil when the route does not authenticate callers.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}
