package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Credentials are what signing needs. Source names where they came from (for
// example "EnvConfigCredentials" or "AssumeRoleProvider"), for logs and
// `signway credentials check`.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string

	CanExpire bool
	Expires   time.Time
	Source    string
}

// String leaves the secret and the session token out, so that printing
// Credentials by accident (%v, %+v, %s) cannot leak them.
func (c Credentials) String() string {
	if !c.CanExpire {
		return fmt.Sprintf("{AccessKeyID:%s Source:%s}", c.AccessKeyID, c.Source)
	}
	return fmt.Sprintf("{AccessKeyID:%s Source:%s Expires:%s}", c.AccessKeyID, c.Source, c.Expires.Format(time.RFC3339))
}

// GoString covers %#v, which bypasses String.
func (c Credentials) GoString() string { return "credentials.Credentials" + c.String() }

// LogValue covers slog, which bypasses both.
func (c Credentials) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("access_key_id", c.AccessKeyID), slog.String("source", c.Source)}
	if c.CanExpire {
		attrs = append(attrs, slog.Time("expires", c.Expires))
	}
	return slog.GroupValue(attrs...)
}

// expired reports whether c can no longer be used at now.
func (c Credentials) expired(now time.Time) bool {
	return c.CanExpire && !now.Before(c.Expires)
}

// Provider obtains credentials. Providers in this package do not cache: each
// Retrieve goes to the source. Wrap one in a Cache to use it for signing.
type Provider interface {
	Retrieve(ctx context.Context) (Credentials, error)
}

// UnavailableError is returned by Cache.Retrieve when it holds no credentials
// that are still valid and could not obtain any.
type UnavailableError struct {
	Source string // the provider's name, as in CacheOptions.SourceName
	Err    error  // why: a *SourceError or a context's error, never a source's raw text
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("AWS credentials from %s unavailable", e.Source)
	}
	if se, ok := e.Err.(*SourceError); ok && se.Source == e.Source {
		return fmt.Sprintf("AWS credentials from %s unavailable: %s", e.Source, se.Reason)
	}
	return fmt.Sprintf("AWS credentials from %s unavailable: %v", e.Source, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// FromAWS adapts an SDK credentials provider. name identifies it in errors
// and logs.
//
// If p is an *aws.CredentialsCache it is invalidated before each Retrieve:
// otherwise it would hand back the same credentials until they actually
// expire, and Cache could never refresh ahead of expiry.
func FromAWS(p aws.CredentialsProvider, name string) Provider {
	if name == "" {
		name = fmt.Sprintf("%T", p)
	}
	return &sdkProvider{p: p, name: name}
}

// ToAWS adapts a Provider for SDK clients (the STS client of AssumeRole, or
// anything else in signway that calls AWS). The SDK client does not cache it:
// pass a *Cache when the credentials should be cached.
func ToAWS(p Provider) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		c, err := p.Retrieve(ctx)
		if err != nil {
			return aws.Credentials{}, err
		}
		return aws.Credentials{
			AccessKeyID:     c.AccessKeyID,
			SecretAccessKey: c.SecretAccessKey,
			SessionToken:    c.SessionToken,
			Source:          c.Source,
			CanExpire:       c.CanExpire,
			Expires:         c.Expires,
		}, nil
	})
}

type sdkProvider struct {
	p    aws.CredentialsProvider
	name string
}

func (s *sdkProvider) String() string { return s.name }

func (s *sdkProvider) Retrieve(ctx context.Context) (Credentials, error) {
	if cc, ok := s.p.(*aws.CredentialsCache); ok {
		cc.Invalidate()
	}
	v, err := s.p.Retrieve(ctx)
	if err != nil {
		return Credentials{}, sanitize(s.name, err)
	}
	return fromSDK(v, s.name)
}

func fromSDK(v aws.Credentials, fallbackSource string) (Credentials, error) {
	if v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return Credentials{}, errors.New("provider returned an empty access key ID or secret")
	}
	src := v.Source
	if src == "" {
		src = fallbackSource
	}
	return Credentials{
		AccessKeyID:     v.AccessKeyID,
		SecretAccessKey: v.SecretAccessKey,
		SessionToken:    v.SessionToken,
		CanExpire:       v.CanExpire,
		Expires:         v.Expires,
		Source:          src,
	}, nil
}
