package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/signway/signway/internal/authz"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/forwardproxy"
	"github.com/signway/signway/internal/proxy"
)

// The signing-service side of the gateway: the authz Decider, the presign
// endpoint and the forward proxy. Each runs requests through the same
// handler as proxy mode (routes, caller authentication, signing), so a
// route answers alike whichever way it is reached.

// signedHeaders are the headers a gateway copies from a decision onto the
// request it sends.
var signedHeaders = []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token", "X-Amz-Region-Set"}

// Decide answers an authz check: the request r describes is routed,
// authenticated and signed as the proxy would, but not sent.
func (g *Gateway) Decide(r *http.Request) authz.Decision {
	c := &proxy.Capture{}
	rec := newRecorder()
	g.handler.ServeHTTP(rec, r.WithContext(proxy.WithCapture(r.Context(), c)))
	out := c.Signed()
	if out == nil {
		return authz.Decision{Status: rec.status(), Header: rec.header, Body: rec.body.Bytes()}
	}
	// The gateway sends its own path and query: a signature over anything
	// else would be refused by AWS, so say what differs instead.
	if got, want := out.URL.EscapedPath(), r.URL.EscapedPath(); got != want {
		return denial(http.StatusBadRequest, fmt.Sprintf("the route signs the path %s, but the gateway sends %s: S3 encodes keys in one way only, and strip_prefix or a path in the route's url change the path; send the path as signed", got, want))
	}
	if out.URL.RawQuery != r.URL.RawQuery {
		return denial(http.StatusBadRequest, "the route signs in the query string (signing.mode: query), which a gateway cannot copy from headers: use header signing for routes served through authz")
	}
	h := http.Header{}
	for _, k := range signedHeaders {
		if v := out.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	h.Set("Host", out.URL.Host)
	return authz.Decision{Status: http.StatusOK, Header: h}
}

func denial(status int, msg string) authz.Decision {
	return authz.Decision{Status: status, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: []byte("signway: " + msg + "\n")}
}

// PresignPath is where an authenticated caller asks for a presigned URL.
const PresignPath = "/.signway/presign"

type presignRequest struct {
	Route     string `json:"route"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	ExpiresIn int64  `json:"expires_in"`
}

type presignAnswer struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// withPresign serves POST /.signway/presign before the routes: the
// described request goes through next (the router with its caller
// authentication), carrying the caller's credentials from the presign
// request, and its presigned URL is the answer.
func (g *Gateway) withPresign(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PresignPath {
			next.ServeHTTP(w, r)
			return
		}
		g.servePresign(w, r, next)
	})
}

func (g *Gateway) servePresign(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, "POST a JSON body: {\"route\": NAME, \"method\": \"GET\", \"path\": \"/key\", \"expires_in\": 300}")
		return
	}
	var req presignRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "the body is not a presign request: "+err.Error()+`; send {"route": NAME, "method": "GET", "path": "/key", "expires_in": 300}`)
		return
	}
	route := g.presignRoute(req.Route)
	if route == nil || route.Presign == nil {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("route %q does not exist or has no presign block", req.Route))
		return
	}
	ps := route.Presign
	method := strings.ToUpper(strOr(req.Method, http.MethodGet))
	if !slices.Contains(ps.Methods, method) {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("method %s is not presigned on route %q: its presign.methods are %s", method, route.Name, strings.Join(ps.Methods, ", ")))
		return
	}
	lifetime := time.Duration(req.ExpiresIn) * time.Second
	switch {
	case req.ExpiresIn < 0:
		writeJSONError(w, http.StatusBadRequest, "expires_in must be positive seconds")
		return
	case req.ExpiresIn == 0:
		lifetime = min(15*time.Minute, ps.MaxLifetime.D())
	case lifetime > ps.MaxLifetime.D():
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("expires_in %d is above route %q's presign.max_lifetime of %s", req.ExpiresIn, route.Name, ps.MaxLifetime.D()))
		return
	}
	if !strings.HasPrefix(req.Path, "/") {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("path %q must start with /", req.Path))
		return
	}
	described, err := http.NewRequestWithContext(r.Context(), method, "http://"+r.Host+req.Path, nil)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("path %q is not a URL path: %v", req.Path, err))
		return
	}
	described.Host, described.RemoteAddr, described.TLS = r.Host, r.RemoteAddr, r.TLS
	described.Header = r.Header.Clone() // the caller's API key, token or certificate
	described.Header.Del("Content-Type")
	described.Header.Del("Content-Length")
	c := &proxy.Capture{Presign: lifetime, Route: route.Name}
	rec := newRecorder()
	next.ServeHTTP(rec, described.WithContext(proxy.WithCapture(described.Context(), c)))
	out := c.Signed()
	if out == nil {
		for k, vv := range rec.header {
			w.Header()[k] = vv
		}
		w.WriteHeader(rec.status())
		w.Write(rec.body.Bytes())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(presignAnswer{URL: out.URL.String(), ExpiresAt: c.Expires().UTC()})
}

func (g *Gateway) presignRoute(name string) *config.Route {
	cfg := g.Config()
	if cfg == nil {
		return nil
	}
	for i := range cfg.Routes {
		if cfg.Routes[i].Name == name {
			return &cfg.Routes[i]
		}
	}
	return nil
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func strOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ForwardProxy puts the forward proxy of fp in front of next (the main
// listener's handler): tunnels to hosts of the current hosts allowlist are
// intercepted and served by next.
func (g *Gateway) ForwardProxy(fp *config.ForwardProxy, next http.Handler) (*forwardproxy.Proxy, error) {
	ca, err := forwardproxy.LoadCA(fp.CACertFile, fp.CAKeyFile, nil)
	if err != nil {
		return nil, err
	}
	return forwardproxy.New(forwardproxy.Options{CA: ca, Tunnel: fp.Unlisted == config.UnlistedTunnel, Handler: next, Next: next, Logger: g.log,
		Listed: func(host string) bool {
			cfg := g.Config() // the allowlist follows reloads
			if cfg == nil {
				return false
			}
			for _, h := range cfg.Hosts {
				if proxy.HostMatches(h.Host, host) {
					return true
				}
			}
			return false
		}})
}

// recorder keeps a handler's answer for a decision.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len() > 64<<10 { // a denial's body; nothing larger is kept
		return len(b), nil
	}
	return r.body.Write(b)
}
func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
