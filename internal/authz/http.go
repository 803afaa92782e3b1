package authz

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// HTTPOptions configure the HTTP check endpoint.
type HTTPOptions struct {
	// EnvoyPathPrefix is the path_prefix of Envoy's ext_authz HTTP service:
	// a check without X-Forwarded-Uri is Envoy's form, whose path is this
	// prefix followed by the original path.
	EnvoyPathPrefix string
	// MaxBodyBytes bounds a body forwarded with the check (Envoy's
	// with_request_body); a larger one is signed as UNSIGNED-PAYLOAD.
	// Zero means 1 MiB.
	MaxBodyBytes int64
}

// Headers of the forward-auth form (Traefik ForwardAuth, Caddy
// forward_auth, nginx auth_request with proxy_set_header).
const (
	hdrMethod = "X-Forwarded-Method"
	hdrURI    = "X-Forwarded-Uri"
	hdrHost   = "X-Forwarded-Host"
	hdrProto  = "X-Forwarded-Proto"
	// Envoy sets it when with_request_body cut the body short.
	hdrPartialBody = "X-Envoy-Auth-Partial-Body"
)

// NewHTTPHandler serves auth subrequests: 200 with the headers to set, or
// the denial as the proxy would answer it.
func NewHTTPHandler(d Decider, o HTTPOptions) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	return &httpHandler{d: d, o: o}
}

type httpHandler struct {
	d Decider
	o HTTPOptions
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, check *http.Request) {
	orig, err := h.describe(check)
	if err != nil {
		writeDecision(w, badCheck(err))
		return
	}
	writeDecision(w, h.d.Decide(orig))
}

// describe rebuilds the original request from a check request.
func (h *httpHandler) describe(check *http.Request) (*http.Request, error) {
	method, uri, host := check.Header.Get(hdrMethod), check.Header.Get(hdrURI), check.Header.Get(hdrHost)
	envoy := uri == ""
	if envoy {
		method, host = check.Method, check.Host
		raw := check.URL.RequestURI()
		if p := h.o.EnvoyPathPrefix; p != "" {
			rest, ok := strings.CutPrefix(raw, strings.TrimSuffix(p, "/"))
			if !ok {
				return nil, fmt.Errorf("the check's path %q does not start with the configured Envoy path prefix %q, and it has no X-Forwarded-Uri", raw, p)
			}
			raw = rest
		}
		uri = raw
	} else if method == "" {
		method = http.MethodGet
	}
	if host == "" {
		host = check.Host
	}
	if !strings.HasPrefix(uri, "/") {
		uri = "/" + uri
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("the original URI %q is not a request path: %w", uri, err)
	}
	u.Scheme, u.Host = "https", host
	if p := check.Header.Get(hdrProto); p == "http" {
		u.Scheme = "http"
	}
	orig, err := http.NewRequestWithContext(check.Context(), method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("the original method %q or host %q is not valid: %w", method, host, err)
	}
	orig.URL = u // keeps RawPath exactly as the gateway will send it
	orig.Host = host
	orig.Header = check.Header.Clone()
	for _, k := range []string{hdrMethod, hdrURI, hdrHost, hdrProto, "X-Forwarded-For", "X-Real-Ip", "Connection"} {
		orig.Header.Del(k)
	}
	orig.ContentLength = 0
	if envoy && check.ContentLength > 0 && check.Header.Get(hdrPartialBody) != "true" && check.ContentLength <= h.o.MaxBodyBytes {
		body, err := io.ReadAll(io.LimitReader(check.Body, h.o.MaxBodyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("reading the forwarded body: %w", err)
		}
		if int64(len(body)) == check.ContentLength {
			orig.Body, orig.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
	}
	// Without the whole body, the Content-Length the gateway forwards still
	// describes the request, but there is nothing to hash.
	orig.Header.Del(hdrPartialBody)
	return orig, nil
}

func badCheck(err error) Decision {
	return Decision{Status: http.StatusBadRequest,
		Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:   []byte("signway authz: " + err.Error() + "\n")}
}

func writeDecision(w http.ResponseWriter, d Decision) {
	h := w.Header()
	for k, vv := range d.Header {
		h[k] = vv
	}
	if d.Allowed() {
		// Nothing for the caller to see; the gateway reads the headers.
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(d.Status)
	w.Write(d.Body)
}
