package gateway

import (
	"context"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/inbound"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/reqinfo"
	"github.com/signway/signway/internal/sigv4"
)

// inboundPools is what caller authentication keeps across reloads: token
// buckets and JWKS caches.
type inboundPools struct {
	mu       sync.Mutex
	limiters *inbound.Limiters
	store    config.RateLimits // the settings limiters was built for
	keySets  *inbound.KeySets
}

// buildCallers indexes one config generation's callers; a caller's own
// credentials share the gateway's credential caches like a route's.
func (g *Gateway) buildCallers(ctx context.Context, gen *generation, cfg *config.Config) (*inbound.Callers, error) {
	g.inbound.mu.Lock()
	if g.inbound.limiters == nil || g.inbound.store != cfg.RateLimits {
		o, err := limiterOptions(cfg.RateLimits, g)
		if err != nil {
			g.inbound.mu.Unlock()
			return nil, err
		}
		if old, ok := g.inbound.limiters.Store().(*inbound.RedisStore); ok {
			// Requests that started on the old store finish first.
			time.AfterFunc(time.Minute, func() { old.Close() })
		}
		g.inbound.limiters, g.inbound.store = inbound.NewLimiters(o), cfg.RateLimits
	}
	if g.inbound.keySets == nil {
		g.inbound.keySets = inbound.NewKeySets(nil, g.log, nil)
	}
	limiters := g.inbound.limiters
	g.inbound.mu.Unlock()
	return inbound.NewCallers(inbound.CallersOptions{
		Callers:  cfg.Callers,
		Limiters: limiters,
		Credentials: func(cc config.Caller) (inbound.CredentialsFunc, error) {
			rc, err := g.acquireCreds(ctx, gen, ownCredentials(cc), "")
			if err != nil {
				return nil, err
			}
			return inbound.CredentialsFunc(rc.fn), nil
		},
	})
}

var sessionNameUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// ownCredentials names the caller in the role session it assumes, so
// CloudTrail shows which caller acted: the session name defaults to the
// caller id.
func ownCredentials(cc config.Caller) config.Credentials {
	c := cc.Credentials
	if c.AssumeRole != nil && c.AssumeRole.SessionName == "" {
		ar := *c.AssumeRole
		name := sessionNameUnsafe.ReplaceAllString("signway-"+cc.ID, "_")
		ar.SessionName = name[:min(len(name), 64)]
		c.AssumeRole = &ar
	}
	return c
}

// guard is the route's caller authentication as a handler step before the
// proxy; nil when the route does not authenticate.
func (g *Gateway) guard(name string, s config.Settings, callers *inbound.Callers) (func(http.Handler) http.Handler, error) {
	o := inbound.Options{Route: name, Auth: s.Auth, Callers: callers, S3: s.Service == "s3", Logger: g.log}
	if g.metrics != nil {
		o.Metrics = g.metrics
	}
	if s.Auth.Enabled() && s.Auth.Accepts(config.AuthJWT) {
		g.inbound.mu.Lock()
		ks := g.inbound.keySets.Get(s.Auth.JWT)
		g.inbound.mu.Unlock()
		v, err := inbound.NewJWTVerifier(s.Auth.JWT, ks, nil)
		if err != nil {
			return nil, err
		}
		o.JWT = v
	}
	a, err := inbound.New(o)
	if a == nil || err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler { return a.Handler(next, admitted) }, nil
}

// admitted names the caller in the access log and hands a SigV4 caller's
// verified signature to the signing transport, which checks the caller's chunk signatures as they stream.
func admitted(r *http.Request, res *inbound.Result) *http.Request {
	reqinfo.SetCaller(r.Context(), res.Caller.ID)
	if res.Verified != nil {
		r = r.WithContext(proxy.WithVerifiedSignature(r.Context(), res.Verified))
	}
	return r
}

// perCaller signs with the caller's own credentials when it has them.
func perCaller(route proxy.CredentialsFunc) proxy.CredentialsFunc {
	return func(ctx context.Context) (sigv4.Credentials, error) {
		if c := inbound.CallerFrom(ctx); c != nil && c.Credentials != nil {
			return c.Credentials(ctx)
		}
		return route(ctx)
	}
}

// limiterOptions sets up where the callers' buckets live: this process, or
// the Redis all replicas share.
func limiterOptions(rl config.RateLimits, g *Gateway) (inbound.LimitersOptions, error) {
	o := inbound.LimitersOptions{Logger: g.log, FailClosed: rl.OnStoreError == "closed"}
	if g.metrics != nil {
		o.StoreError = g.metrics.RateLimitStoreError
	}
	if rl.Store != "" {
		st, err := inbound.NewRedisStore(rl.Store)
		if err != nil {
			return o, err
		}
		o.Store = st
	}
	return o, nil
}
