package main

import (
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/signway/signway/bench/signfloor"
)

// getBodySize is the size of every GET response: the "1 KiB GET" of the
// benchmark.
const getBodySize = 1024

// serveOrigin runs the origin: GETs get 1 KiB, PUTs and POSTs have their
// body read and discarded and get the byte count back, so an upload costs
// the origin no memory and the runner can check what arrived.
func serveOrigin(args []string) error {
	fs := flag.NewFlagSet("origin", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	certFile := fs.String("tls-cert", "", "serve TLS with this PEM certificate (and -tls-key)")
	keyFile := fs.String("tls-key", "", "PEM key for -tls-cert")
	h2 := fs.Bool("h2", true, "with TLS, offer HTTP/2 in ALPN as well as HTTP/1.1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body := bytes.Repeat([]byte("x"), getBodySize)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPut, http.MethodPost:
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, fmt.Sprintf("reading body after %d bytes: %v", n, err), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%d\n", n)
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}
	})
	srv := &http.Server{Addr: *listen, Handler: h}
	if *certFile == "" {
		return fmt.Errorf("origin: %w", srv.ListenAndServe())
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(*h2)
	srv.Protocols = &p
	return fmt.Errorf("origin: %w", srv.ListenAndServeTLS(*certFile, *keyFile))
}

// serveBareProxy runs the baseline: a plain httputil.ReverseProxy with no
// signing, tuned only so that every wrk connection keeps its own upstream
// connection (Go's default of 2 idle connections per host would make it
// measure TCP setup instead of proxying).
func serveBareProxy(args []string) error {
	fs := flag.NewFlagSet("bareproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	target := fs.String("target", "", "origin URL")
	pooled := fs.Bool("buffer-pool", false, "reuse copy buffers (ReverseProxy.BufferPool) instead of allocating 32 KiB per request")
	insecure := fs.Bool("insecure", false, "do not verify the origin's TLS certificate (a loopback self-signed one)")
	sign := fs.String("sign", "", "sign every request with aws-sdk-go-v2's signer for SERVICE/REGION (the SDK-signing baseline)")
	signer := fs.String("signer", "sdk", "with -sign, whose signer: sdk (aws-sdk-go-v2) or signway (internal/sigv4, the proxy's own)")
	pprofAddr := fs.String("pprof", "", "serve /debug/pprof/ on this address, to profile the baseline under the same load as signway (--pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pprofAddr != "" {
		// pprof's handlers register on DefaultServeMux; the proxy below
		// has its own handler, so they are reachable only here.
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }()
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bareproxy: -target %q is not an absolute URL (%v)", *target, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	// DefaultTransport already has ForceAttemptHTTP2, so a TLS origin that
	// offers h2 is spoken to in HTTP/2, as signway's transport does.
	if *insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	var rt http.RoundTripper = tr
	if *sign != "" {
		service, region, err := parseSign(*sign)
		if err != nil {
			return err
		}
		switch *signer {
		case "sdk":
			rt = signfloor.NewSDK(tr, service, region)
		case "signway":
			rt = signfloor.NewSignway(tr, service, region)
		default:
			return fmt.Errorf("bareproxy: -signer %q is not sdk or signway", *signer)
		}
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport: rt,
	}
	if *pooled {
		rp.BufferPool = &bufferPool{}
	}
	return fmt.Errorf("bareproxy: %w", http.ListenAndServe(*listen, rp))
}

// parseSign reads bareproxy's -sign flag: SERVICE/REGION.
func parseSign(v string) (service, region string, err error) {
	service, region, ok := strings.Cut(v, "/")
	if !ok || service == "" || region == "" {
		return "", "", fmt.Errorf("bareproxy: -sign %q is not SERVICE/REGION, such as execute-api/us-east-1", v)
	}
	return service, region, nil
}

// bufferPool is the one tuning a production proxy adds to the bare one:
// without it ReverseProxy allocates a 32 KiB buffer for every response.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
