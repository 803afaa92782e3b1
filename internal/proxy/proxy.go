// Package proxy owns the request path between a caller and an upstream: the
// httputil.ReverseProxy with its Rewrite, the signing RoundTripper, payload
// strategies (unsigned, hashed through a bounded spool), the upstream
// transport, and the mapping of failures to 4xx/5xx answers that tell the
// caller what to fix.
package proxy

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/signway/signway/internal/reqinfo"
	"github.com/signway/signway/internal/sigv4"
)

// Metrics is what the proxy reports; *admin.Metrics implements it.
type Metrics interface {
	ObserveRequest(route, method string, status int, d time.Duration)
	InFlightInc()
	InFlightDec()
	SigningError(route, reason string)
	UpstreamError(route, kind string)
	CredentialError(source string)
	ObserveUpstream(route string, status int, d time.Duration)
	ObserveSigning(route string, d time.Duration)
	AddBodyBytes(route string, in, out int64)
}

type nopMetrics struct{}

func (nopMetrics) ObserveRequest(string, string, int, time.Duration) {}
func (nopMetrics) InFlightInc()                                      {}
func (nopMetrics) InFlightDec()                                      {}
func (nopMetrics) SigningError(string, string)                       {}
func (nopMetrics) UpstreamError(string, string)                      {}
func (nopMetrics) CredentialError(string)                            {}
func (nopMetrics) ObserveUpstream(string, int, time.Duration)        {}
func (nopMetrics) ObserveSigning(string, time.Duration)              {}
func (nopMetrics) AddBodyBytes(string, int64, int64)                 {}

// Options assemble a Proxy. Everything with side effects is passed in.
type Options struct {
	Route     *Route
	Transport http.RoundTripper // the upstream transport; NewTransport's by default
	Now       func() time.Time  // the signing clock; time.Now by default
	Logger    *slog.Logger
	Metrics   Metrics
	Keys      *sigv4.KeyCache // shared signing-key cache; a new one by default
	// Conns counts responses in flight by protocol; nil counts nothing.
	Conns *UpstreamConns
	// SpoolMemory caps the memory all hashed bodies hold together
	// (limits.spool_memory); NewTable shares one among its routes, and a
	// gateway keeps one across reloads.
	SpoolMemory *SpoolBudget
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Proxy is an http.Handler that signs and forwards requests.
type Proxy struct {
	route       *Route
	rewrites    Rewrites
	tokenHeader string
	rp          *httputil.ReverseProxy
	log         *slog.Logger
	metrics     Metrics
}

// New validates the route and builds the proxy.
func New(o Options) (*Proxy, error) {
	if err := o.Route.prepare(); err != nil {
		return nil, err
	}
	if o.Transport == nil {
		t, err := NewTransport(TransportOptions{})
		if err != nil {
			return nil, err
		}
		o.Transport = t
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	if o.SpoolMemory == nil {
		o.SpoolMemory = NewSpoolBudget(0)
	}
	o.Route.spoolBudget = o.SpoolMemory
	p := &Proxy{route: o.Route, log: o.Logger, metrics: o.Metrics}
	p.rp = &httputil.ReverseProxy{
		Rewrite: p.rewrite,
		Transport: &signingTransport{route: o.Route, signer: sigv4.NewSigner(o.Keys), now: o.Now, conns: o.Conns, log: o.Logger, backoff: retryBackoff,
			metrics: o.Metrics, base: bodyIdleTransport{base: o.Transport, idle: o.Route.bodyIdle(), late: newLateHeaders(o.Route.responseTimeout())}},
		ErrorHandler:   p.fail,
		ModifyResponse: p.diagnose,
		ErrorLog:       slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		BufferPool:     bufferPool{},
	}
	return p, nil
}

// callerCredentials are the headers through which a caller could try to
// supply (or spoil) a signature; signway's own replace them.
// X-Amz-Content-Sha256 is not among them: the signing transport reads it (the
// body is held to a caller's hash, an aws-chunked body is decoded) and
// replaces it.
var callerCredentials = []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	// ReverseProxy has already removed hop-by-hop headers, those named in
	// Connection, and Forwarded/X-Forwarded-*. It has also re-encoded a query
	// holding ';' or a bad escape, silently dropping the pairs it could not
	// parse and turning spaces into '+': the signer canonicalises the query
	// itself (and answers 400 for a bad escape), so the caller's is restored.
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	if prefix := p.rewrites.StripPrefix; prefix != "" {
		stripPrefix(pr.Out.URL, prefix)
	}
	pr.SetURL(p.route.Target)
	if p.tokenHeader != "" {
		// The token goes to the credentials lookup only, never upstream.
		token := bearerToken(pr.Out.Header.Get(p.tokenHeader))
		pr.Out.Header.Del(p.tokenHeader)
		pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), callerTokenKey{}, token))
	}
	h := pr.Out.Header
	for _, k := range callerCredentials {
		delete(h, k)
	}
	for _, k := range p.rewrites.RemoveHeaders {
		h.Del(k)
	}
	for k, v := range p.rewrites.AddHeaders {
		h.Set(k, v)
	}
	if q := pr.Out.URL.RawQuery; strings.Contains(q, "X-Amz-") {
		pr.Out.URL.RawQuery = stripSignatureParams(q)
	}
}

type callerTokenKey struct{}

// CallerToken returns the caller's bearer token for a route with a
// CallerTokenHeader; "" when the caller sent none.
func CallerToken(ctx context.Context) string {
	t, _ := ctx.Value(callerTokenKey{}).(string)
	return t
}

// bearerToken strips an optional "Bearer " scheme (any case).
func bearerToken(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return v
}

// stripPrefix removes prefix from the path, keeping it absolute; the escaped
// form loses the same prefix when it has it, and is rebuilt otherwise.
func stripPrefix(u *url.URL, prefix string) {
	prefix = strings.TrimSuffix(prefix, "/")
	rest, ok := strings.CutPrefix(u.Path, prefix)
	if !ok || rest != "" && rest[0] != '/' {
		return
	}
	if rest == "" {
		rest = "/"
	}
	u.Path = rest
	if raw, ok := strings.CutPrefix(u.RawPath, prefix); ok && strings.HasPrefix(raw, "/") {
		u.RawPath = raw
	} else {
		u.RawPath = ""
	}
}

// stripSignatureParams drops a caller's presigned-URL parameters.
func stripSignatureParams(raw string) string {
	var kept []string
	for _, piece := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(piece, "=")
		switch k {
		case "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
			"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Region-Set":
			continue
		}
		kept = append(kept, piece)
	}
	return strings.Join(kept, "&")
}

func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	if sw, ok := w.(*statusWriter); ok {
		err = callerBodyErr(r, sw.body, err)
	}
	f := classify(r, err, p.route.Target.Host)
	switch f.kind {
	case "signing":
		p.metrics.SigningError(p.route.Name, "malformed")
	case "credentials":
		p.metrics.CredentialError(cmp.Or(p.route.CredentialSource, "unnamed"))
	case "timeout", "connect", "other", "canceled":
		p.metrics.UpstreamError(p.route.Name, f.kind)
	}
	level := slog.LevelWarn
	if f.status == StatusClientClosedRequest {
		level = slog.LevelDebug
	}
	p.log.Log(r.Context(), level, "request failed", "route", p.route.Name, "method", r.Method,
		"path", r.URL.Path, "status", f.status, "code", f.code, "error", f.msg)
	if f.status == StatusClientClosedRequest {
		// The caller is gone, or half-closed and taken for gone: the status
		// is for logs and metrics only, and the connection is dropped
		// without an answer no HTTP client would know.
		if sw, ok := w.(*statusWriter); ok {
			sw.status = f.status
		}
		panic(http.ErrAbortHandler)
	}
	if f.kind == "body" {
		// What is left of a refused body is not read: the connection cannot
		// carry another request, and the server would otherwise wait for
		// that rest before it answers.
		w.Header().Set("Connection", "close")
	}
	writeFailure(w, f, p.route.s3)
}

// ServeHTTP proxies one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	closeIfChunked(w, r)
	start := time.Now()
	p.metrics.InFlightInc()
	sw := &statusWriter{ResponseWriter: w, s3: p.route.s3}
	// One record for the access log, traces and the signing and upstream
	// metrics; the gateway's middleware has made it already.
	info := reqinfo.From(r.Context())
	copied := false
	if info == nil {
		info = &reqinfo.Info{}
		r, copied = r.WithContext(reqinfo.With(r.Context(), info)), true
	}
	info.Route, info.Received = p.route.Name, start
	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		if !copied {
			// The body is wrapped (here and to watch it idle) on a copy: a
			// handler must not modify the Request it was given.
			r = r.WithContext(r.Context())
		}
		body = &countingBody{ReadCloser: r.Body}
		r.Body = body
	}
	defer func() {
		p.metrics.InFlightDec()
		p.metrics.ObserveRequest(p.route.Name, r.Method, sw.code(), time.Since(start))
		var in int64
		if body != nil {
			in = body.n.Load()
		}
		p.metrics.AddBodyBytes(p.route.Name, in, sw.written)
	}()
	sw.body = watchCallerBody(w, r, p.route.bodyIdle())
	p.rp.ServeHTTP(sw, r)
}

// closeIfChunked closes an HTTP/1.x connection after a chunked request. A
// request with both Content-Length and Transfer-Encoding must not leave its
// connection open (RFC 9112 6.1: a smuggling attempt, or a client whose
// framing cannot be trusted), and net/http removes the Content-Length before
// a handler could see that both were sent; chunked requests are rare enough
// that closing after each one costs little.
func closeIfChunked(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
		w.Header().Set("Connection", "close")
	}
}

// statusWriter records the status for metrics; Unwrap keeps Flush and the
// rest of http.ResponseController working through it.
type statusWriter struct {
	http.ResponseWriter
	status  int
	body    *idleBody // the caller's body, when it is watched
	s3      bool      // user metadata names go out in S3's lower case
	written int64     // body bytes
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 || w.status < 200 {
		w.status = code
	}
	if w.s3 && code >= 200 {
		lowerUserMetadata(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.written += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
