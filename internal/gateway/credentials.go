package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/credentials"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

// CredSpec is what a route, or the command line, says about its
// credentials, in the credentials package's terms.
type CredSpec struct {
	Source credentials.SourceSpec
	// Chain is assumed in order, each role with the credentials of the one
	// before it (role chaining); empty signs with Source's credentials.
	Chain []credentials.AssumeRoleOptions
	// Caller, when set, replaces Source and Chain: each caller's own token
	// is exchanged for the role.
	Caller *credentials.CallerWebIdentityOptions
	// TokenHeader carries the caller's token (per-caller web identity).
	TokenHeader string
	// ReturnSTSError sends STS's own words to a refused caller.
	ReturnSTSError bool
	// metrics receives the caches' refreshes and STS latency; nil records
	// nothing. Not part of what makes two specs the same.
	metrics *admin.Metrics
}

// instrument makes the spec's caches report refreshes and expiry, and its
// STS calls (a web identity token file, assume-role hops, per-caller web
// identity) their latency.
func (s CredSpec) instrument(m *admin.Metrics) CredSpec {
	if m == nil {
		return s
	}
	s.metrics = m
	s.Source.STSMetrics = m
	chain := make([]credentials.AssumeRoleOptions, len(s.Chain))
	for i, hop := range s.Chain {
		hop.STSMetrics = m
		chain[i] = hop
	}
	s.Chain = chain
	if s.Caller != nil {
		c := *s.Caller
		c.STSMetrics = m
		s.Caller = &c
	}
	return s
}

// RouteCredSpec translates a route's credentials block, whose defaults
// config.Load has filled in; region is the route's signing region, the
// default STS region. Secrets given as {file: PATH} are read now: a changed
// file makes a different spec, so a reload picks up a rotated secret.
func RouteCredSpec(c config.Credentials, region string) (CredSpec, error) {
	if c.Source == config.SourceCallerWebIdentity {
		w := c.WebIdentity
		if w == nil {
			return CredSpec{}, errors.New("source caller_web_identity needs a web_identity block")
		}
		return CredSpec{Caller: &credentials.CallerWebIdentityOptions{
			RoleARN: w.RoleARN, AccountID: w.AccountID, RoleName: w.RoleName,
			SessionName: w.SessionName, Duration: w.Duration.D(), CacheSize: w.CacheSize,
			STSRegion: cmp.Or(w.STSRegion, region), STSEndpoint: w.STSEndpoint,
		}, TokenHeader: cmp.Or(w.TokenHeader, "Authorization"), ReturnSTSError: w.ReturnSTSError}, nil
	}
	spec := CredSpec{Source: credentials.SourceSpec{Source: c.Source, Profile: c.Profile, Region: region}}
	if c.Source == config.SourceStatic {
		var errs []error
		val := func(s config.Secret, field string) string {
			v, err := s.Value()
			if err != nil {
				errs = append(errs, fmt.Errorf("credentials.%s: %w", field, err))
			}
			return v
		}
		spec.Source.Static = credentials.StaticKeys{
			AccessKeyID:     val(c.AccessKeyID, "access_key_id"),
			SecretAccessKey: val(c.SecretAccessKey, "secret_access_key"),
			SessionToken:    val(c.SessionToken, "session_token"),
		}
		if err := errors.Join(errs...); err != nil {
			return CredSpec{}, err
		}
	}
	if ra := c.RolesAnywhere; c.Source == config.SourceRolesAnywhere && ra != nil {
		spec.Source.RolesAnywhere = &credentials.RolesAnywhereOptions{CertificateFile: ra.CertificateFile, PrivateKeyFile: ra.PrivateKeyFile,
			IntermediatesFile: ra.IntermediatesFile, TrustAnchorARN: ra.TrustAnchorARN, ProfileARN: ra.ProfileARN, RoleARN: ra.RoleARN,
			Duration: ra.Duration.D(), Endpoint: ra.Endpoint}
	}
	if ar := c.AssumeRole; ar != nil {
		for _, r := range append([]config.AssumeRole{*ar}, ar.Chain...) {
			spec.Chain = append(spec.Chain, credentials.AssumeRoleOptions{
				RoleARN: r.RoleARN, SessionName: r.SessionName, ExternalID: r.ExternalID,
				SourceIdentity: r.SourceIdentity, Duration: r.Duration.D(), Tags: r.Tags,
				Region: cmp.Or(r.STSRegion, region), Endpoint: r.STSEndpoint,
			})
		}
	}
	return spec, nil
}

// credKey is everything a credential cache is built from. The assume-role
// hops go in as their JSON (slices and tag maps are not comparable; JSON
// sorts map keys). The key holds secrets and is never printed.
type credKey struct {
	source      credentials.SourceSpec
	roles       rolesKey
	chain       string
	caller      callerKey
	tokenHeader string
	returnSTS   bool
}

// rolesKey is the comparable part of RolesAnywhereOptions.
type rolesKey struct {
	cert, key, intermediates, trustAnchor, profile, role, endpoint string
	duration                                                       time.Duration
}

// callerKey is the comparable part of CallerWebIdentityOptions.
type callerKey struct {
	set                                   bool
	roleARN, accountID, roleName, session string
	stsRegion, stsEndpoint                string
	duration, refreshBefore               int64
	cacheSize                             int
}

func (s CredSpec) key() (credKey, error) {
	k := credKey{source: s.Source, tokenHeader: s.TokenHeader, returnSTS: s.ReturnSTSError}
	k.source.STSMetrics, k.source.Logger = nil, nil
	if ra := k.source.RolesAnywhere; ra != nil {
		// The same settings share one cache across reloads.
		k.roles = rolesKey{ra.CertificateFile, ra.PrivateKeyFile, ra.IntermediatesFile, ra.TrustAnchorARN, ra.ProfileARN, ra.RoleARN, ra.Endpoint, ra.Duration}
		k.source.RolesAnywhere = nil
	}
	if len(s.Chain) > 0 {
		// What a config sets of each hop; the client, logger and metrics
		// are not part of what makes two chains the same.
		type hopKey struct {
			RoleARN, SessionName, ExternalID, SourceIdentity, Region, Endpoint string
			Duration                                                           time.Duration
			Tags                                                               map[string]string
		}
		hops := make([]hopKey, len(s.Chain))
		for i, h := range s.Chain {
			hops[i] = hopKey{h.RoleARN, h.SessionName, h.ExternalID, h.SourceIdentity, h.Region, h.Endpoint, h.Duration, h.Tags}
		}
		b, err := json.Marshal(hops)
		if err != nil {
			return credKey{}, err
		}
		k.chain = string(b)
	}
	if c := s.Caller; c != nil {
		k.caller = callerKey{set: true, roleARN: c.RoleARN, accountID: c.AccountID, roleName: c.RoleName, session: c.SessionName,
			stsRegion: c.STSRegion, stsEndpoint: c.STSEndpoint, duration: int64(c.Duration), refreshBefore: int64(c.RefreshBefore),
			cacheSize: c.CacheSize}
	}
	return k, nil
}

// routeCreds are a route's credentials: a shared cache, or per-caller web
// identity. They remember the last outcome of fetching into the cache, so
// readiness is answered without waiting on the source.
type routeCreds struct {
	fn          proxy.CredentialsFunc
	tokenHeader string
	cache       *credentials.Cache // nil for per-caller web identity
	source      string

	fetching atomic.Bool
	lastErr  atomic.Pointer[error]
	warned   atomic.Bool
}

func buildCreds(ctx context.Context, spec CredSpec, log *slog.Logger, m *admin.Metrics) (*routeCreds, error) {
	spec = spec.instrument(m)
	if spec.Caller != nil {
		opts := *spec.Caller
		opts.Logger = log
		cwi, err := credentials.NewCallerWebIdentity(opts)
		if err != nil {
			return nil, err
		}
		return &routeCreds{tokenHeader: spec.TokenHeader, source: "web identity of each caller for " + cwi.RoleARN(),
			fn: callerCredentials(cwi, spec.TokenHeader, spec.ReturnSTSError)}, nil
	}
	cache, source, err := CredentialChain(ctx, spec, log, nil)
	if err != nil {
		return nil, err
	}
	return &routeCreds{fn: signingCredentials(cache), cache: cache, source: source}, nil
}

// state is the last known readiness, without waiting: when the cache has
// no valid credentials it starts a fetch in the background (unless one is
// running) and reports what the previous one said.
func (rc *routeCreds) state(ctx context.Context, log *slog.Logger) error {
	if rc.cache == nil || rc.cache.Ready() {
		return nil
	}
	rc.fetch(ctx, log)
	if p := rc.lastErr.Load(); p != nil {
		return fmt.Errorf("no credentials yet from %s: %w", rc.source, *p)
	}
	return fmt.Errorf("no credentials yet from %s: still asking it", rc.source)
}

// fetch asks the cache for credentials in the background, so that the first
// request need not wait and a source that hangs holds nothing up.
func (rc *routeCreds) fetch(ctx context.Context, log *slog.Logger) {
	if rc.cache == nil || !rc.fetching.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer rc.fetching.Store(false)
		_, err := rc.cache.Retrieve(ctx)
		if err == nil {
			rc.lastErr.Store(nil)
			return
		}
		rc.lastErr.Store(&err)
		if ctx.Err() == nil && !rc.warned.Swap(true) {
			log.Warn("no AWS credentials yet; requests get 503 until they can be obtained", "source", rc.source, "error", err)
		}
	}()
}

// signingCredentials adapts a credentials cache to what the proxy calls per
// request.
func signingCredentials(c *credentials.Cache) proxy.CredentialsFunc {
	return func(ctx context.Context) (sigv4.Credentials, error) {
		cr, err := c.Retrieve(ctx)
		if err != nil {
			return sigv4.Credentials{}, err
		}
		sc := sigv4.Credentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken}
		if cr.CanExpire {
			sc.Expires = cr.Expires // a presigned URL must not outlive them
		}
		return sc, nil
	}
}

// callerCredentials exchanges each caller's token for credentials. A caller
// without a token, or whose token is refused, is answered 401/403; STS's own
// words only when the route asks for them (return_sts_error), since they can
// tell a stranger about the identity setup.
func callerCredentials(cwi *credentials.CallerWebIdentity, header string, returnSTS bool) proxy.CredentialsFunc {
	return func(ctx context.Context) (sigv4.Credentials, error) {
		tok := proxy.CallerToken(ctx)
		if tok == "" {
			return sigv4.Credentials{}, &proxy.CallerAuthError{Status: http.StatusUnauthorized, Code: "MissingToken",
				Message: fmt.Sprintf("this route signs with the caller's own identity: send an identity token in the %s header (Bearer TOKEN)", header)}
		}
		c, err := cwi.Retrieve(ctx, tok)
		if err == nil {
			return sigv4.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, nil
		}
		return sigv4.Credentials{}, callerAuthError(err, returnSTS)
	}
}

// callerAuthError maps a failed token exchange to the caller's answer; an
// error that is not the caller's stays as it is (a 5xx).
func callerAuthError(err error, returnSTS bool) error {
	var stsErr *credentials.STSError
	var tokErr *credentials.TokenError
	switch {
	case errors.As(err, &stsErr) && returnSTS:
		status := stsErr.StatusCode
		if status < 400 || status > 499 {
			status = http.StatusForbidden
		}
		return &proxy.CallerAuthError{Status: status, Code: stsErr.Code, Message: "STS: " + stsErr.Message}
	case errors.As(err, &tokErr):
		return &proxy.CallerAuthError{Status: http.StatusUnauthorized, Code: "InvalidToken", Message: "the identity token is not usable: " + tokErr.Error()}
	case credentials.IsCallerError(err):
		return &proxy.CallerAuthError{Status: http.StatusForbidden, Code: "AccessDenied", Message: "the identity token was not accepted for this route's role"}
	}
	return err
}

// CredentialChain builds spec's source and then each assume-role hop, every
// one behind its own cache, so each hop's credentials are fetched once and
// reused as the next role's base. visit, when set, sees each cache as it is
// built, with the role it assumed ("" for the source): `credentials check`
// uses it to name the hop that failed.
func CredentialChain(ctx context.Context, spec CredSpec, log *slog.Logger, visit func(c *credentials.Cache, role string) error) (*credentials.Cache, string, error) {
	spec.Source.Logger = log // the SDK's own log lines, as JSON with the rest
	base, err := credentials.FromSource(ctx, spec.Source)
	if err != nil {
		return nil, "", err
	}
	// Each cache names itself after its provider ("profile ops", "static
	// keys AKIA...", "assume role ARN"): what errors and logs should say.
	cache := credentials.NewCache(base, credentials.CacheOptions{Logger: log, Metrics: cacheMetrics(spec.metrics)})
	if visit != nil {
		if err := visit(cache, ""); err != nil {
			return nil, "", err
		}
	}
	for _, hop := range spec.Chain {
		hop.Logger = log
		p, err := credentials.AssumeRole(cache, hop)
		if err != nil {
			return nil, "", err
		}
		cache = credentials.NewCache(p, credentials.CacheOptions{Logger: log, Metrics: cacheMetrics(spec.metrics)})
		if visit != nil {
			if err := visit(cache, hop.RoleARN); err != nil {
				return nil, "", err
			}
		}
	}
	return cache, cache.String(), nil
}

// cacheMetrics keeps a nil *admin.Metrics out of the interface, where it
// would be called.
func cacheMetrics(m *admin.Metrics) credentials.CacheMetrics {
	if m == nil {
		return nil
	}
	return m
}
