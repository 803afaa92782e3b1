package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/credentials"
	"github.com/signway/signway/internal/inbound"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

// gateway turns config generations into routing tables. What outlives a
// generation lives here: upstream transports (with their connection pools),
// credential caches and the signing-key cache, keyed by their settings, so a
// reload that keeps a route's settings keeps its connections and credentials
// and causes no burst of STS calls.
type gateway struct {
	log     *slog.Logger
	metrics *admin.Metrics
	keys    *sigv4.KeyCache
	// spool caps the memory hashed bodies hold, across routes and reloads
	// (limits.spool_memory).
	spool *proxy.SpoolBudget

	mu         sync.Mutex
	transports map[proxy.TransportOptions]*http.Transport
	creds      map[[32]byte]*routeCreds
	// used holds the keys the latest table asked for: prune drops the rest
	// once that table serves.
	used map[any]bool
	// inbound keeps caller authentication's state across reloads.
	inbound inboundPools
}

// routeCreds is a route's credentials: a cache, or per-caller web identity.
type routeCreds struct {
	fn          proxy.CredentialsFunc
	tokenHeader string
	cache       *credentials.Cache // nil for per-caller web identity
	source      string
}

func newGateway(log *slog.Logger, metrics *admin.Metrics) *gateway {
	return &gateway{log: log, metrics: metrics, keys: sigv4.NewKeyCache(), spool: proxy.NewSpoolBudget(0),
		transports: map[proxy.TransportOptions]*http.Transport{}, creds: map[[32]byte]*routeCreds{}}
}

func (g *gateway) transport(o proxy.TransportOptions) (*http.Transport, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mark(o)
	if t, ok := g.transports[o]; ok {
		return t, nil
	}
	t, err := proxy.NewTransport(o)
	if err != nil {
		return nil, err
	}
	g.transports[o] = t
	return t, nil
}

// mark records that the table being built uses key; g.mu is held.
func (g *gateway) mark(key any) {
	if g.used == nil {
		g.used = map[any]bool{}
	}
	g.used[key] = true
}

// prune forgets the transports and credential caches the serving table does
// not use, after a reload swapped it in, so a gateway whose config keeps
// changing does not accumulate them. Requests still in flight on the old
// table hold their own references; dropped transports only lose their idle
// connections.
func (g *gateway) prune() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for o, t := range g.transports {
		if !g.used[o] {
			t.CloseIdleConnections()
			delete(g.transports, o)
		}
	}
	for k := range g.creds {
		if !g.used[k] {
			g.metrics.ForgetCredentials(g.creds[k].source)
			delete(g.creds, k)
		}
	}
	g.used = nil
}

func (g *gateway) closeIdle() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range g.transports {
		t.CloseIdleConnections()
	}
}

// credentials returns the route's credentials, shared with every route (of
// this or an earlier generation) whose credentials block is the same.
func (g *gateway) credentials(ctx context.Context, c config.Credentials, region string) (*routeCreds, error) {
	spec, err := routeCredSpec(c, region)
	if err != nil {
		return nil, err
	}
	// The key holds the secrets only through a hash, and is never printed.
	key := sha256.Sum256(fmt.Appendf(nil, "%#v|%#v|%#v|%d", spec.source, spec.chain, spec.caller, len(spec.chain)))
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mark(key)
	if rc, ok := g.creds[key]; ok {
		return rc, nil
	}
	rc, err := g.buildCreds(ctx, c, spec)
	if err != nil {
		return nil, err
	}
	g.creds[key] = rc
	return rc, nil
}

func (g *gateway) buildCreds(ctx context.Context, c config.Credentials, spec credSpec) (*routeCreds, error) {
	spec = instrumentCreds(spec, g.metrics)
	if spec.caller != nil {
		opts := *spec.caller
		opts.Logger = g.log
		cwi, err := credentials.NewCallerWebIdentity(opts)
		if err != nil {
			return nil, err
		}
		returnSTS := c.WebIdentity != nil && c.WebIdentity.ReturnSTSError
		header := "Authorization"
		if c.WebIdentity != nil && c.WebIdentity.TokenHeader != "" {
			header = c.WebIdentity.TokenHeader
		}
		return &routeCreds{tokenHeader: header, source: "web identity of each caller for " + cwi.RoleARN(),
			fn: callerCredentials(cwi, header, returnSTS)}, nil
	}
	cache, source, err := credentialChain(ctx, spec, g.log, nil)
	if err != nil {
		return nil, err
	}
	return &routeCreds{fn: signingCredentials(cache), cache: cache, source: source}, nil
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
		var stsErr *credentials.STSError
		var tokErr *credentials.TokenError
		switch {
		case errors.As(err, &stsErr) && returnSTS:
			status := stsErr.StatusCode
			if status < 400 || status > 499 {
				status = http.StatusForbidden
			}
			return sigv4.Credentials{}, &proxy.CallerAuthError{Status: status, Code: stsErr.Code, Message: "STS: " + stsErr.Message}
		case errors.As(err, &tokErr):
			return sigv4.Credentials{}, &proxy.CallerAuthError{Status: http.StatusUnauthorized, Code: "InvalidToken", Message: "the identity token is not usable: " + tokErr.Error()}
		case credentials.IsCallerError(err):
			return sigv4.Credentials{}, &proxy.CallerAuthError{Status: http.StatusForbidden, Code: "AccessDenied", Message: "the identity token was not accepted for this route's role"}
		}
		return sigv4.Credentials{}, err
	}
}

// table compiles one config generation. It fails as a whole: a reload either
// applies every route or none.
func (g *gateway) table(ctx context.Context, cfg *config.Config) (*proxy.Table, func() error, error) {
	g.mu.Lock()
	g.used = nil // a fresh mark for this generation
	g.mu.Unlock()
	var specs []proxy.RouteSpec
	var caches []*routeCreds
	var errs []error
	callers, err := g.buildCallers(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	add := func(field string, spec proxy.RouteSpec, rc *routeCreds, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			return
		}
		specs = append(specs, spec)
		caches = append(caches, rc)
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		u, err := r.Upstream()
		if err != nil {
			add(fmt.Sprintf("routes[%d]", i), proxy.RouteSpec{}, nil, err)
			continue
		}
		spec, rc, err := g.spec(ctx, r.Name, r.Settings, callers)
		spec.Route.Target = u
		spec.Match = proxy.Match{Host: strings.ToLower(r.Match.Host), Path: r.Match.Path, PathPrefix: r.Match.PathPrefix, Methods: upper(r.Match.Methods)}
		add(fmt.Sprintf("routes[%d] (%s)", i, r.Name), spec, rc, err)
	}
	for i := range cfg.Hosts {
		h := &cfg.Hosts[i]
		spec, rc, err := g.spec(ctx, "host "+h.Host, h.Settings, callers)
		spec.FromHost, spec.Scheme, spec.Port = true, h.Protocol, h.Port
		spec.Match = proxy.Match{Host: strings.ToLower(h.Host)}
		add(fmt.Sprintf("hosts[%d] (%s)", i, h.Host), spec, rc, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	g.spool.SetLimit(int64(cfg.Limits.SpoolMemory))
	tbl, err := proxy.NewTable(specs, proxy.Options{Logger: g.log, Metrics: g.metrics, Keys: g.keys, SpoolMemory: g.spool})
	if err != nil {
		return nil, nil, err
	}
	return tbl, readiness(caches), nil
}

func upper(ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = strings.ToUpper(m)
	}
	return out
}

// readiness is ready once every shared credentials cache has credentials;
// per-caller routes have nothing to obtain in advance.
func readiness(rcs []*routeCreds) func() error {
	return func() error {
		for _, rc := range rcs {
			if rc.cache == nil || rc.cache.Ready() {
				continue
			}
			if _, err := rc.cache.Retrieve(context.Background()); err != nil {
				return fmt.Errorf("no credentials yet from %s: %w", rc.source, err)
			}
		}
		return nil
	}
}

// spec maps one route's or host entry's settings (defaults already merged by
// config) to a proxy route. The upstream and match are the caller's to set.
func (g *gateway) spec(ctx context.Context, name string, s config.Settings, callers *inbound.Callers) (proxy.RouteSpec, *routeCreds, error) {
	route := &proxy.Route{Name: name, Service: s.Service, Region: s.Region, Payload: s.Payload,
		SignQuery: s.Signing.Mode == config.SignQuery, Lifetime: s.Signing.Lifetime.D(),
		SigningAlgorithm: s.Signing.Algorithm, RegionSet: s.SigV4ARegionSet(),
		MaxBodyBytes: int64(s.MaxBodySize), BodyIdleTimeout: s.Timeouts.BodyIdle.D(), MaxAttempts: s.Retries.MaxAttempts,
		Debug: s.Debug}
	spec := proxy.RouteSpec{Route: route, Rewrite: proxy.Rewrites{StripPrefix: s.StripPrefix, AddHeaders: s.Headers.Add, RemoveHeaders: s.Headers.Remove}}
	if len(s.Headers.Unsigned) > 0 || len(s.Headers.SignedOnly) > 0 {
		route.Headers = sigv4.NewHeaderPolicy(s.Headers.SignedOnly, s.Headers.Unsigned)
	}
	tr, err := g.transport(proxy.TransportOptions{ConnectTimeout: s.Timeouts.Connect.D(), ResponseTimeout: s.Timeouts.Response.D(),
		CAFile: s.UpstreamTLS.CAFile, InsecureSkipVerify: s.UpstreamTLS.InsecureSkipVerify})
	if err != nil {
		return spec, nil, err
	}
	spec.Transport = tr
	rc, err := g.credentials(ctx, s.Credentials, s.Region)
	if err != nil {
		return spec, nil, err
	}
	route.Credentials, spec.CallerTokenHeader = perCaller(rc.fn), rc.tokenHeader
	if spec.Guard, err = g.guard(name, s, callers); err != nil {
		return spec, nil, err
	}
	return spec, rc, nil
}

// credentialChain builds spec's source and then each assume-role hop, every
// one behind its own cache, so each hop's credentials are fetched once and
// reused as the next role's base. visit, when set, sees each cache as it is
// built, with the role it assumed ("" for the source).
func credentialChain(ctx context.Context, spec credSpec, log *slog.Logger, visit func(c *credentials.Cache, role string) error) (*credentials.Cache, string, error) {
	spec.source.Logger = log // the SDK's own log lines, as JSON with the rest
	base, err := credentials.FromSource(ctx, spec.source)
	if err != nil {
		return nil, "", err
	}
	// Each cache names itself after its provider ("profile ops", "static
	// keys AKIA...", "assume role ARN"): what errors and logs should say.
	cache := credentials.NewCache(base, credentials.CacheOptions{Logger: log, Metrics: spec.metrics})
	if visit != nil {
		if err := visit(cache, ""); err != nil {
			return nil, "", err
		}
	}
	for _, hop := range spec.chain {
		hop.Logger = log
		p, err := credentials.AssumeRole(cache, hop)
		if err != nil {
			return nil, "", err
		}
		cache = credentials.NewCache(p, credentials.CacheOptions{Logger: log, Metrics: spec.metrics})
		if visit != nil {
			if err := visit(cache, hop.RoleARN); err != nil {
				return nil, "", err
			}
		}
	}
	return cache, cache.String(), nil
}
