package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signway/signway/internal/awsendpoint"
	"github.com/signway/signway/internal/config"
)

// RouteSpec places a Route in a Router: which requests it takes and what is
// changed in them before signing.
type RouteSpec struct {
	Route *Route
	Match Match
	// FromHost makes a host-based route, what awslabs/aws-sigv4-proxy does:
	// the upstream is the caller's Host, which Match.Host must allow (it is
	// then the allowlist entry). Route.Target stays nil; Route.Service,
	// Route.Region and Route.SigningAlgorithm, when empty, are detected
	// from each host.
	FromHost bool
	// Scheme and Port of a host-based upstream: https and the scheme's
	// port unless set. The caller's own port is ignored: it cannot steer.
	Scheme string
	Port   int
	// Transport overrides the router's upstream transport (per-route
	// timeouts, CA bundles).
	Transport http.RoundTripper
	Rewrite   Rewrites
	// CallerTokenHeader, when set, names the header carrying the caller's
	// bearer token (per-caller web identity). The token is moved from the
	// header into the request's context for the route's CredentialsFunc
	// (see CallerToken) and never reaches the upstream.
	CallerTokenHeader string
	// Guard, when set, wraps the route's handler: inbound caller
	// authentication, which answers a refused request itself, so nothing
	// is signed or sent for it.
	Guard func(http.Handler) http.Handler
}

// Rewrites are per-route changes to the request before it is signed.
type Rewrites struct {
	StripPrefix   string            // removed from the start of the path
	AddHeaders    map[string]string // set (replacing the caller's)
	RemoveHeaders []string
}

// Table is one immutable generation of routes. A reload builds a new Table
// and swaps it in; requests keep the entry they started with.
type Table struct {
	entries  []*entry // most specific first
	hostMode bool
}

type entry struct {
	spec    RouteSpec
	proxy   *Proxy       // fixed upstream
	handler http.Handler // proxy behind the guard
	hosts   *hostProxies // host-based
}

// NewTable compiles specs. opts supplies the shared transport, clock, logger,
// metrics and key cache; opts.Route is ignored.
func NewTable(specs []RouteSpec, opts Options) (*Table, error) {
	t := &Table{}
	if opts.SpoolMemory == nil {
		opts.SpoolMemory = NewSpoolBudget(0)
	}
	for i, s := range specs {
		if s.Route == nil {
			return nil, fmt.Errorf("routes[%d]: no route", i)
		}
		name := s.Route.Name
		if err := validateMatch(s.Match); err != nil {
			return nil, fmt.Errorf("route %q: %w", name, err)
		}
		e := &entry{spec: s}
		o := opts
		if s.Transport != nil {
			o.Transport = s.Transport
		}
		if s.FromHost {
			if s.Match.Host == "" {
				return nil, fmt.Errorf("route %q: a host-based route needs a host pattern to allow", name)
			}
			if s.Route.Target != nil {
				return nil, fmt.Errorf("route %q: a host-based route takes its upstream from the Host header and has no URL", name)
			}
			if e.spec.Scheme == "" {
				e.spec.Scheme = "https"
			}
			e.hosts = &hostProxies{spec: &e.spec, opts: o, byHost: map[string]*Proxy{}}
			t.hostMode = true
		} else {
			o.Route = s.Route
			p, err := New(o)
			if err != nil {
				return nil, err
			}
			p.rewrites, p.tokenHeader = s.Rewrite, s.CallerTokenHeader
			e.proxy, e.handler = p, e.guard(p)
		}
		t.entries = append(t.entries, e)
	}
	slices.SortStableFunc(t.entries, func(a, b *entry) int {
		sa, sb := a.spec.Match.specificity(), b.spec.Match.specificity()
		return slices.Compare(sb[:], sa[:])
	})
	return t, nil
}

func (t *Table) find(host, path, method string) *entry {
	for _, e := range t.entries {
		if e.spec.Match.matches(host, path, method) {
			return e
		}
	}
	return nil
}

// Router is the http.Handler for many routes.
type Router struct {
	table   atomic.Pointer[Table]
	opts    Options
	metrics Metrics
}

// NewRouter serves t; Load replaces it.
func NewRouter(t *Table, opts Options) *Router {
	r := &Router{opts: opts, metrics: opts.Metrics}
	if r.metrics == nil {
		r.metrics = nopMetrics{}
	}
	r.table.Store(t)
	return r
}

// Load swaps in a new generation of routes. Requests already dispatched
// finish on the routes they started with; connections are not touched.
func (rt *Router) Load(t *Table) { rt.table.Store(t) }

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	closeIfChunked(w, r)
	t := rt.table.Load()
	host, _, hostOK := requestHostName(r)
	e := t.find(host, r.URL.Path, r.Method)
	if e == nil || !hostOK && e.spec.Match.Host != "" {
		rt.refuse(w, r, t, host)
		return
	}
	if e.proxy != nil {
		e.handler.ServeHTTP(w, r)
		return
	}
	if !hostOK {
		rt.refuse(w, r, t, r.Host)
		return
	}
	p, err := e.hosts.get(host)
	if err != nil {
		rt.fail(w, r, failure{http.StatusForbidden, "HostNotSignable", err.Error(), "signing"})
		return
	}
	e.guard(p).ServeHTTP(w, r)
}

func (e *entry) guard(p *Proxy) http.Handler {
	if e.spec.Guard == nil {
		return p
	}
	return e.spec.Guard(p)
}

func (rt *Router) refuse(w http.ResponseWriter, r *http.Request, t *Table, host string) {
	if t.hostMode {
		rt.fail(w, r, failure{http.StatusForbidden, "HostNotAllowed",
			fmt.Sprintf("host %q is not on this gateway's allowlist; nothing was signed or sent (add it to hosts: in the config)", host), "routing"})
		return
	}
	rt.fail(w, r, failure{http.StatusNotFound, "NoRoute",
		fmt.Sprintf("no route matches %s %s on host %q; nothing was signed or sent", r.Method, r.URL.Path, host), "routing"})
}

func (rt *Router) fail(w http.ResponseWriter, r *http.Request, f failure) {
	start := time.Now()
	rt.opts.logger().Info("request refused", "method", r.Method, "host", r.Host, "path", r.URL.Path, "status", f.status, "code", f.code)
	writeFailure(w, f, false)
	rt.metrics.ObserveRequest("", r.Method, f.status, time.Since(start))
}

// hostProxies builds and keeps one Proxy per allowed host of a host-based
// route, so each host's service and region are worked out once.
type hostProxies struct {
	spec   *RouteSpec
	opts   Options
	mu     sync.Mutex
	byHost map[string]*Proxy
}

// maxHostProxies bounds the hosts a wildcard pattern can make us remember.
const maxHostProxies = 1024

func (h *hostProxies) get(host string) (*Proxy, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.byHost[host]; ok {
		return p, nil
	}
	route := *h.spec.Route // a copy per host: prepare fills in its fields
	target := host
	if p := h.spec.Port; p != 0 && !(p == 443 && h.spec.Scheme == "https" || p == 80 && h.spec.Scheme == "http") {
		target = net.JoinHostPort(host, strconv.Itoa(p))
	}
	route.Target = &url.URL{Scheme: h.spec.Scheme, Host: target}
	if route.Service == "" || route.Region == "" || route.SigningAlgorithm == "" {
		d := awsendpoint.Detect(host)
		if route.Service == "" {
			route.Service = d.Service
		}
		if route.Region == "" {
			route.Region = d.Region
		}
		if route.SigningAlgorithm == "" && d.MultiRegion {
			route.SigningAlgorithm = config.SigV4A
			if len(route.RegionSet) == 0 {
				route.RegionSet = []string{awsendpoint.MultiRegionSet}
			}
		}
		if route.Service == "" || route.Region == "" && route.SigningAlgorithm != config.SigV4A {
			return nil, fmt.Errorf("host %q is allowed but its AWS service or region cannot be told from the name; set service and region on the host rule", host)
		}
	}
	o := h.opts
	o.Route = &route
	p, err := New(o)
	if err != nil {
		return nil, err
	}
	p.rewrites, p.tokenHeader = h.spec.Rewrite, h.spec.CallerTokenHeader
	if len(h.byHost) >= maxHostProxies {
		clear(h.byHost)
	}
	h.byHost[host] = p
	return p, nil
}
