// Package signcli is `signway sign`, the awscurl of signway: it signs one
// request exactly as the gateway would (through internal/gateway, with a
// transport that captures the signed request) and prints it, prints a curl
// command, or sends it. The command line's dispatch stays in cmd/signway.
package signcli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/gateway"
	"github.com/signway/signway/internal/sigv4"
)

const signUsage = `Usage:
  signway sign [--config FILE --route NAME | --service S --region R] [-X METHOD] [-H 'K: V']... [-d DATA|@FILE|@-] URL

Signs one request the way the gateway would (same credentials, header
rules, payload mode and path encoding) and prints the canonical request, the
string to sign and the signed request; secrets in the printout are
redacted. --curl prints a ready curl command instead, --send sends the
request and prints the response (and signway's diagnosis of a
SignatureDoesNotMatch on stderr).

With --config, URL is what a caller would send to signway (only its path and
query are used) and the route's upstream receives it; without, URL is the
upstream itself.

Flags:
`

// headerFlags collects repeated -H 'Name: value'.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

type signOptions struct {
	deps                    Deps
	configFile, route       string
	service, region         string
	assumeRole, payload     string
	signQuery               bool
	lifetime                int
	method, data            string
	headers                 headerFlags
	curl, send              bool
	target                  *url.URL
	dataFile                string // -d @FILE
	stdin                   io.Reader
	stdout, stderr          io.Writer
	signingAlgorithm, regns string
}

// Deps are what `signway sign` shares with the gateway's own command line,
// so that a request signed here is signed as the gateway would sign it.
type Deps struct {
	// FromFlags builds the one-route config the gateway builds from these
	// command-line flags (--forward-to, --service, ...), validated.
	FromFlags func(args []string) (*config.Config, error)
}

// Run is `signway sign ARGS`.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, deps Deps) error {
	so := &signOptions{stdin: stdin, stdout: stdout, stderr: stderr, deps: deps}
	fs := flag.NewFlagSet("signway sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&so.configFile, "config", "", "config `file` whose route signs the request")
	fs.StringVar(&so.route, "route", "", "`name` of the --config route (default: the only one)")
	fs.StringVar(&so.service, "service", "", "signing `service` (default: detected from the URL)")
	fs.StringVar(&so.region, "region", "", "signing `region` (default: detected from the URL, else AWS_REGION)")
	fs.StringVar(&so.assumeRole, "assume-role", "", "`ARN` of a role to assume for signing")
	fs.StringVar(&so.payload, "payload", "auto", "how the body is signed (`mode`): auto, unsigned, signed or streaming")
	fs.BoolVar(&so.signQuery, "sign-query", false, "sign in the query string (a presigned URL)")
	fs.IntVar(&so.lifetime, "signature-lifetime", 0, "`seconds` a --sign-query signature stays valid (default 900)")
	fs.StringVar(&so.signingAlgorithm, "signing-algorithm", "sigv4", "`algorithm`: sigv4 or sigv4a")
	fs.StringVar(&so.regns, "region-set", "", "SigV4A `regions`, comma-separated")
	fs.StringVar(&so.method, "X", "", "request `method` (default GET, POST with -d)")
	fs.Var(&so.headers, "H", "request `header` 'Name: value' (repeatable)")
	fs.StringVar(&so.data, "d", "", "request body: `DATA`, @FILE, or @- for standard input")
	fs.BoolVar(&so.curl, "curl", false, "print a curl command that sends the signed request")
	fs.BoolVar(&so.send, "send", false, "send the signed request and print the response")
	fs.Usage = func() {
		fmt.Fprint(stderr, signUsage)
		cliflag.Print(fs, stderr)
	}
	// Flags may follow the URL, as with curl.
	var rest []string
	for a := args; ; {
		if err := fs.Parse(a); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return &cliflag.UsageError{Err: err}
		}
		if fs.NArg() == 0 {
			break
		}
		rest, a = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
	if err := so.check(rest, fs); err != nil {
		return &cliflag.UsageError{Err: err}
	}
	return so.run(ctx)
}

// check validates the command line, reporting every problem at once.
func (so *signOptions) check(rest []string, fs *flag.FlagSet) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case len(rest) == 0:
		bad("give the URL to sign, like https://my-bucket.s3.us-east-1.amazonaws.com/key")
	case len(rest) > 1:
		bad("one URL only; got %q", rest)
	default:
		u, err := url.Parse(rest[0])
		if err != nil {
			bad("URL %q: %v", rest[0], err)
		} else if so.configFile == "" && (u.Host == "" || u.Scheme != "http" && u.Scheme != "https") {
			bad("URL %q must be absolute http:// or https:// (or give --config and a path)", rest[0])
		}
		so.target = u
	}
	if so.configFile != "" {
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "service", "region", "assume-role", "payload", "sign-query", "signature-lifetime", "signing-algorithm", "region-set":
				bad("--%s cannot be combined with --config: the route says how to sign", f.Name)
			}
		})
	} else if so.route != "" {
		bad("--route needs --config")
	}
	if so.curl && so.send {
		bad("--curl and --send: choose one")
	}
	for _, h := range so.headers {
		if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(name, " \t") {
			bad("-H %q: write a header as 'Name: value'", h)
		}
	}
	if f, ok := strings.CutPrefix(so.data, "@"); ok && f != "-" {
		if _, err := os.Stat(f); err != nil {
			bad("-d @%s: %v", f, err)
		}
		so.dataFile = f
	}
	if so.method == "" {
		so.method = http.MethodGet
		if so.data != "" {
			so.method = http.MethodPost
		}
	}
	so.method = strings.ToUpper(so.method)
	return errors.Join(errs...)
}

// config is a one-route config for the route that signs: the config
// file's, or one made from the flags exactly as the gateway makes one from
// its command line. It matches any request and authenticates no caller:
// the operator signs.
func (so *signOptions) config() (*config.Config, error) {
	var r config.Route
	if so.configFile != "" {
		cfg, err := config.Load(so.configFile, os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("%s:\n%w", so.configFile, err)
		}
		rp, err := PickRoute(cfg, so.configFile, so.route)
		if err != nil {
			return nil, err
		}
		r = *rp
	} else {
		args := []string{"--forward-to", (&url.URL{Scheme: so.target.Scheme, Host: so.target.Host}).String(), "--payload", so.payload,
			"--signing-algorithm", so.signingAlgorithm}
		for flag, v := range map[string]string{"--service": so.service, "--region": so.region, "--assume-role": so.assumeRole, "--region-set": so.regns} {
			if v != "" {
				args = append(args, flag, v)
			}
		}
		if so.lifetime != 0 {
			args = append(args, "--signature-lifetime", strconv.Itoa(so.lifetime))
		}
		if so.signQuery {
			args = append(args, "--sign-query")
		}
		cfg, err := so.deps.FromFlags(args)
		if err != nil {
			return nil, err
		}
		r = cfg.Routes[0]
		r.Name = "sign"
	}
	r.Match, r.Auth = config.Match{}, config.Auth{}
	return &config.Config{Routes: []config.Route{r}}, nil
}

// PickRoute returns the route named route of the config file at path, or its
// only route when route is empty; a usage error names the routes otherwise.
func PickRoute(cfg *config.Config, path, route string) (*config.Route, error) {
	var names []string
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		names = append(names, r.Name)
		if r.Name == route || (route == "" && len(cfg.Routes) == 1) {
			return r, nil
		}
	}
	if route == "" {
		return nil, cliflag.Errorf("%s has %d routes; choose one with --route (%s)", path, len(names), strings.Join(names, ", "))
	}
	return nil, cliflag.Errorf("%s has no route %q (it has: %s)", path, route, strings.Join(names, ", "))
}

func (so *signOptions) body() (io.Reader, int64, error) {
	switch {
	case so.data == "":
		return nil, 0, nil
	case so.data == "@-":
		b, err := io.ReadAll(so.stdin)
		return bytes.NewReader(b), int64(len(b)), err
	case so.dataFile != "":
		b, err := os.ReadFile(so.dataFile)
		return bytes.NewReader(b), int64(len(b)), err
	}
	return strings.NewReader(so.data), int64(len(so.data)), nil
}

func (so *signOptions) run(ctx context.Context) error {
	log := slog.New(slog.NewTextHandler(so.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := so.config()
	if err != nil {
		return err
	}
	capture := &signCapture{send: so.send}
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: log, WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
		capture.base = rt
		return capture
	}})
	if err != nil {
		return err
	}
	defer g.Close()
	body, n, err := so.body()
	if err != nil {
		return err
	}
	u := *so.target
	u.Scheme, u.Host = "http", "signway.invalid" // the route decides where it goes
	req, err := http.NewRequestWithContext(ctx, so.method, u.String(), body)
	if err != nil {
		return err
	}
	req.ContentLength = n
	for _, h := range so.headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	w := &signResponse{header: http.Header{}, out: so.stdout, print: so.send}
	g.Handler().ServeHTTP(w, req)
	if capture.out == nil {
		// Refused before signing: the gateway's own error answer says why.
		return fmt.Errorf("not signed: %d %s", w.status, strings.TrimSpace(w.buf.String()))
	}
	switch {
	case so.send:
		if w.status >= 400 {
			return fmt.Errorf("the upstream answered %d", w.status)
		}
		return nil
	case so.curl:
		return printCurl(so.stdout, so.stderr, capture)
	}
	return printSigned(so.stdout, capture.out)
}

// signCapture stands where the gateway's upstream transport would: it keeps
// the signed request and sends it only with --send.
type signCapture struct {
	base http.RoundTripper
	send bool
	out  *http.Request
	body []byte // the body as it would be sent (aws-chunked when streaming)
}

func (c *signCapture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.out = r
	if c.send {
		return c.base.RoundTrip(r)
	}
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		c.body = b
	}
	return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// signResponse receives what the gateway answers: the upstream's response
// with --send, printed as it streams; otherwise kept for an error message.
type signResponse struct {
	header http.Header
	status int
	out    io.Writer
	print  bool
	buf    bytes.Buffer
}

func (w *signResponse) Header() http.Header { return w.header }

func (w *signResponse) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if w.print {
		fmt.Fprintf(w.out, "HTTP %d %s\n", code, http.StatusText(code))
		w.header.Write(w.out)
		fmt.Fprintln(w.out)
	}
}

func (w *signResponse) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.print {
		return w.out.Write(b)
	}
	return w.buf.Write(b)
}

// printSigned shows what the upstream will recompute, and the request,
// with the session token redacted (--curl shows it all).
func printSigned(w io.Writer, out *http.Request) error {
	signed, err := sigv4.SignedCanonical(out)
	if err != nil {
		return fmt.Errorf("rebuilding the canonical request: %w", err)
	}
	// After the method, path, query and header lines, a blank line, then
	// the signed header names.
	lines := strings.Split(signed.CanonicalRequest, "\n")
	signedHeaders := ""
	for i := 3; i+1 < len(lines); i++ {
		if lines[i] == "" {
			signedHeaders = lines[i+1]
			break
		}
	}
	fmt.Fprintf(w, "Canonical request:\n%s\n\nString to sign:\n%s\n\nSigned headers: %s\n\nRequest:\n%s %s\n",
		sigv4.RedactCanonical(signed.CanonicalRequest), signed.StringToSign, signedHeaders, out.Method, redactURL(out.URL))
	fmt.Fprintf(w, "Host: %s\n", hostOf(out))
	for _, k := range sortedKeys(out.Header) {
		for _, v := range out.Header[k] {
			if v == "" {
				continue // set empty so that none is sent (User-Agent)
			}
			if k == "X-Amz-Security-Token" {
				v = "<redacted: shown with --curl>"
			}
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
	if out.ContentLength > 0 {
		fmt.Fprintf(w, "Content-Length: %d\n", out.ContentLength)
	}
	return nil
}

// redactURL hides the session token a presigned URL carries; the
// signature stays, to compare with the upstream's.
func redactURL(u *url.URL) string {
	c := *u
	if q := c.Query(); q.Has("X-Amz-Security-Token") {
		pairs := strings.Split(c.RawQuery, "&")
		for i, p := range pairs {
			if k, _, _ := strings.Cut(p, "="); k == "X-Amz-Security-Token" {
				pairs[i] = k + "=" + url.QueryEscape("<redacted: shown with --curl>")
			}
		}
		c.RawQuery = strings.Join(pairs, "&")
	}
	return c.String()
}

func hostOf(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// printCurl writes a curl command that sends exactly the signed request;
// a body goes into a file, as it would be sent (aws-chunked when the
// payload is streamed).
func printCurl(w, stderr io.Writer, c *signCapture) error {
	out := c.out
	var b strings.Builder
	fmt.Fprintf(&b, "curl -sS -X %s %s", out.Method, shellQuote(out.URL.String()))
	if h := hostOf(out); h != out.URL.Host {
		fmt.Fprintf(&b, " \\\n  -H %s", shellQuote("Host: "+h))
	}
	for _, k := range sortedKeys(out.Header) {
		for _, v := range out.Header[k] {
			fmt.Fprintf(&b, " \\\n  -H %s", shellQuote(k+": "+v))
		}
	}
	if len(c.body) > 0 {
		f, err := os.CreateTemp("", "signway-sign-*.body")
		if err != nil {
			return err
		}
		if _, err := f.Write(c.body); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(&b, " \\\n  --data-binary @%s", shellQuote(f.Name()))
		fmt.Fprintf(stderr, "signway: the body as it is signed is in %s\n", f.Name())
	}
	fmt.Fprintln(w, b.String())
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
