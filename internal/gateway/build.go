package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/inbound"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

// generation is one config compiled: its routing table, the credentials
// its routes use (for readiness) and the pool entries it holds.
type generation struct {
	cfg      *config.Config
	table    *proxy.Table
	creds    []*routeCreds
	releases []func()
}

func (gen *generation) release() {
	for _, r := range gen.releases {
		r()
	}
	gen.releases = nil
}

// warm fetches credentials now, so that the first request does not wait
// and readiness turns green as soon as it can.
func (gen *generation) warm(ctx context.Context, log *slog.Logger) {
	for _, rc := range gen.creds {
		rc.fetch(ctx, log)
	}
}

// build compiles cfg. It fails as a whole, naming every route it cannot
// build, and then holds nothing from the pools.
func (g *Gateway) build(ctx context.Context, cfg *config.Config) (gen *generation, err error) {
	gen = &generation{cfg: cfg}
	defer func() {
		if err != nil {
			gen.release()
		}
	}()
	var specs []proxy.RouteSpec
	var errs []error
	callers, err := g.buildCallers(ctx, gen, cfg)
	if err != nil {
		return nil, err
	}
	add := func(field string, spec proxy.RouteSpec, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			return
		}
		specs = append(specs, spec)
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		u, err := r.Upstream()
		if err != nil {
			add(fmt.Sprintf("routes[%d]", i), proxy.RouteSpec{}, err)
			continue
		}
		spec, err := g.spec(ctx, gen, r.Name, r.Settings, callers)
		spec.Route.Target = u
		spec.Match = proxy.Match{Host: strings.ToLower(r.Match.Host), Path: r.Match.Path, PathPrefix: r.Match.PathPrefix, Methods: upper(r.Match.Methods)}
		add(fmt.Sprintf("routes[%d] (%s)", i, r.Name), spec, err)
	}
	for i := range cfg.Hosts {
		h := &cfg.Hosts[i]
		spec, err := g.spec(ctx, gen, "host "+h.Host, h.Settings, callers)
		spec.FromHost, spec.Scheme, spec.Port = true, h.Protocol, h.Port
		spec.Match = proxy.Match{Host: strings.ToLower(h.Host)}
		add(fmt.Sprintf("hosts[%d] (%s)", i, h.Host), spec, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	g.spool.SetLimit(int64(cfg.Limits.SpoolMemory))
	if gen.table, err = proxy.NewTable(specs, g.proxyOptions()); err != nil {
		return nil, err
	}
	return gen, nil
}

func upper(ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = strings.ToUpper(m)
	}
	return out
}

// spec maps one route's or host entry's settings (defaults already merged by
// config) to a proxy route, taking its transport and credentials from the
// pools. The upstream and match are the caller's to set.
func (g *Gateway) spec(ctx context.Context, gen *generation, name string, s config.Settings, callers *inbound.Callers) (proxy.RouteSpec, error) {
	route := &proxy.Route{Name: name, Service: s.Service, Region: s.Region, Payload: s.Payload,
		SignQuery: s.Signing.Mode == config.SignQuery, Lifetime: s.Signing.Lifetime.D(),
		SigningAlgorithm: s.Signing.Algorithm, RegionSet: s.SigV4ARegionSet(),
		MaxBodyBytes: int64(s.MaxBodySize), BodyIdleTimeout: s.Timeouts.BodyIdle.D(), ResponseTimeout: s.Timeouts.Response.D(), MaxAttempts: s.Retries.MaxAttempts,
		Debug: s.Debug}
	spec := proxy.RouteSpec{Route: route, Rewrite: proxy.Rewrites{StripPrefix: s.StripPrefix, AddHeaders: s.Headers.Add, RemoveHeaders: s.Headers.Remove}}
	if len(s.Headers.Unsigned) > 0 || len(s.Headers.SignedOnly) > 0 {
		route.Headers = sigv4.NewHeaderPolicy(s.Headers.SignedOnly, s.Headers.Unsigned)
	}
	to := proxy.TransportOptions{ConnectTimeout: s.Timeouts.Connect.D(),
		CAFile: s.UpstreamTLS.CAFile, InsecureSkipVerify: s.UpstreamTLS.InsecureSkipVerify, Conns: g.conns}
	tr, err := g.transports.acquire(to, func() (*http.Transport, error) { return proxy.NewTransport(to) })
	if err != nil {
		return spec, err
	}
	gen.releases = append(gen.releases, func() { g.transports.release(to) })
	spec.Transport = tr
	if g.wrap != nil {
		spec.Transport = g.wrap(tr)
	}

	rc, err := g.acquireCreds(ctx, gen, s.Credentials, s.Region)
	if err != nil {
		return spec, err
	}
	gen.creds = append(gen.creds, rc)
	route.Credentials, route.CredentialSource, spec.CallerTokenHeader = perCaller(rc.fn), rc.source, rc.tokenHeader
	if spec.Guard, err = g.guard(name, s, callers); err != nil {
		return spec, err
	}
	return spec, nil
}

// acquireCreds takes the credentials c describes from the pool, for gen.
func (g *Gateway) acquireCreds(ctx context.Context, gen *generation, c config.Credentials, region string) (*routeCreds, error) {
	cs, err := RouteCredSpec(c, region)
	if err != nil {
		return nil, err
	}
	key, err := cs.key()
	if err != nil {
		return nil, err
	}
	rc, err := g.creds.acquire(key, func() (*routeCreds, error) { return buildCreds(ctx, cs, g.log, g.metrics) })
	if err != nil {
		return nil, err
	}
	gen.releases = append(gen.releases, func() { g.creds.release(key) })
	return rc, nil
}
