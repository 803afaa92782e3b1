package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

// Options are what a Gateway is assembled with besides its config.
type Options struct {
	Logger *slog.Logger // nil discards
	// Metrics receive the proxy's and the reloads' figures; nil counts
	// nothing.
	Metrics *admin.Metrics
	// Middleware wraps the routing handler, the first outermost: each
	// sees every request before the routes do (an access log, inbound
	// caller authentication).
	Middleware []func(http.Handler) http.Handler
	// Override adjusts each config read from the file (LoadFile,
	// ReloadFile) before it is validated again: command-line flags that
	// win over the file, such as listener addresses.
	Override func(*config.Config)
	// WrapTransport, when set, stands between each route's signing and
	// its upstream transport (`signway sign` captures the signed request).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Gateway is a running set of routes. Reload swaps in a new config
// atomically: requests in flight finish on the routes they started with,
// and what the new config shares with the old (transports, credential
// caches, the signing-key cache) is kept.
type Gateway struct {
	log     *slog.Logger
	metrics *admin.Metrics
	keys    *sigv4.KeyCache
	// spool caps the memory hashed bodies hold, across routes and reloads
	// (limits.spool_memory).
	spool *proxy.SpoolBudget
	// conns counts upstream connections and streams for the metrics.
	conns *proxy.UpstreamConns

	transports *pool[proxy.TransportOptions, *http.Transport]
	creds      *pool[credKey, *routeCreds]
	// inbound keeps caller authentication's state across reloads.
	inbound inboundPools

	router  *proxy.Router
	handler http.Handler

	// bg lives as long as the gateway: background credential fetches.
	bg     context.Context
	cancel context.CancelFunc

	mu       sync.Mutex // serialises Reload and Close
	gen      atomic.Pointer[generation]
	path     string // the config file, for ReloadFile
	override func(*config.Config)
	wrap     func(http.RoundTripper) http.RoundTripper
}

// New builds the routes of cfg, which config.Load or config.Validate and
// WithDefaults have completed. It fails as a whole and reports every route
// it cannot build.
func New(ctx context.Context, cfg *config.Config, o Options) (*Gateway, error) {
	g := &Gateway{log: o.Logger, metrics: o.Metrics, conns: &proxy.UpstreamConns{}, wrap: o.WrapTransport, keys: sigv4.NewKeyCache(), spool: proxy.NewSpoolBudget(0),
		transports: newPool[proxy.TransportOptions](func(t *http.Transport) { t.CloseIdleConnections() }),
		creds: newPool[credKey](func(rc *routeCreds) {
			if o.Metrics != nil {
				o.Metrics.ForgetCredentials(rc.source)
			}
		})}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	o.Metrics.ObserveUpstreamConns(g.conns) // nil-safe
	g.bg, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	gen, err := g.build(ctx, cfg)
	if err != nil {
		g.cancel()
		return nil, err
	}
	g.router = proxy.NewRouter(gen.table, g.proxyOptions())
	g.gen.Store(gen)
	g.handler = g.withPresign(g.router)
	for i := len(o.Middleware) - 1; i >= 0; i-- {
		g.handler = o.Middleware[i](g.handler)
	}
	gen.warm(g.bg, g.log)
	return g, nil
}

func (g *Gateway) proxyOptions() proxy.Options {
	o := proxy.Options{Logger: g.log, Keys: g.keys, SpoolMemory: g.spool, Conns: g.conns}
	if g.metrics != nil { // a nil *admin.Metrics in the interface would be called
		o.Metrics = g.metrics
	}
	return o
}

// Handler serves the routes, through the middleware.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Config is the config being served.
func (g *Gateway) Config() *config.Config {
	if gen := g.gen.Load(); gen != nil {
		return gen.cfg
	}
	return nil
}

// Reload builds cfg and, only if every route builds, serves it instead of
// the current config. Listeners are not the gateway's: their settings in
// cfg are ignored.
func (g *Gateway) Reload(ctx context.Context, cfg *config.Config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen, err := g.build(ctx, cfg)
	if err != nil {
		return err
	}
	g.router.Load(gen.table)
	if old := g.gen.Swap(gen); old != nil {
		old.release()
	}
	gen.warm(g.bg, g.log)
	return nil
}

// Ready reports whether every shared credential cache of the current
// config has credentials. It never waits for a credential source: it says
// what the last fetch said and starts another in the background.
func (g *Gateway) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	gen := g.gen.Load()
	if gen == nil {
		return errors.New("the gateway is closed")
	}
	var errs []error
	for _, rc := range gen.creds {
		if err := rc.state(g.bg, g.log); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops background fetches and closes idle upstream connections.
// Requests in flight are the listeners' to drain, before Close.
func (g *Gateway) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancel()
	if old := g.gen.Swap(nil); old != nil {
		old.release()
	}
}
