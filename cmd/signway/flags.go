package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/signway/signway/internal/config"
)

// options are the command line, with the names and meanings of
// alex-karpenko/aws-sigv4-proxy's flags so signway can replace it as is.
type options struct {
	configFile        string
	forwardTo         string
	service           string
	region            string
	assumeRole        string
	listenOn          string
	utilityPort       string
	connectTimeout    int
	requestTimeout    int
	bodyIdleTimeout   int
	signatureLifetime int
	caFile            string
	noVerifySSL       bool
	certFile          string
	keyFile           string
	payload           string
	signingAlgorithm  string
	regionSet         string
	signQuery         bool
	maxBody           int64
	shutdownTimeout   int
	logLevel          string
	logFormat         string
	pprof             bool
	debugSigning      bool
	accessLog         string

	routeFlagsSet []string

	target *url.URL
	mode   config.PayloadMode
	// regions is --region-set split; nil means the signing region.
	regions []string
	level   slog.Level
}

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("signway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, long, short, def, usage string) {
		fs.StringVar(p, long, def, usage)
		if short != "" {
			fs.StringVar(p, short, def, "short for --"+long)
		}
	}
	fs.StringVar(&o.configFile, "config", "", "YAML config `file` with many routes (see docs/config.md); reloaded on SIGHUP and when it changes")
	str(&o.forwardTo, "forward-to", "f", "", "`URL` of the AWS service to forward signed requests to (required without --config)")
	str(&o.service, "service", "s", "", "AWS signing `service` name (default: detected from --forward-to)")
	str(&o.region, "region", "r", "", "signing `region` (default: detected from --forward-to, else AWS_REGION)")
	str(&o.assumeRole, "assume-role", "a", "", "`ARN` of an IAM role to assume for signing")
	str(&o.listenOn, "listen-on", "l", "0.0.0.0:8080", "`address` (or port) to accept requests on")
	str(&o.utilityPort, "utility-port", "u", "9090", "`port` (or address) for /healthz, /readyz and /metrics")
	fs.IntVar(&o.connectTimeout, "connect-timeout", int(config.DefaultConnectTimeout.D()/time.Second), "`seconds` to connect to the upstream, TLS included")
	fs.IntVar(&o.requestTimeout, "request-timeout", 30, "`seconds` from the upstream receiving a request to its response headers; 0 for none")
	fs.IntVar(&o.bodyIdleTimeout, "body-idle-timeout", 60, "`seconds` a request body may go without progress (caller: 408, upstream: 504); 0 for none")
	fs.IntVar(&o.signatureLifetime, "signature-lifetime", 0, "`seconds` a query signature stays valid with --sign-query (1 to 604800; default 900)")
	fs.StringVar(&o.caFile, "ca", "", "PEM `file` of extra root CAs for upstream TLS")
	fs.BoolVar(&o.noVerifySSL, "no-verify-ssl", false, "DANGEROUS: do not verify the upstream's TLS certificate")
	str(&o.certFile, "cert", "c", "", "PEM certificate (chain) `file` to serve TLS with; reloaded when the file changes")
	str(&o.keyFile, "key", "k", "", "PEM private key `file` for --cert")
	fs.StringVar(&o.payload, "payload", "auto", "how bodies are signed (`mode`): auto, unsigned, signed or streaming")
	fs.StringVar(&o.signingAlgorithm, "signing-algorithm", "", "`algorithm`: sigv4, or sigv4a for SigV4A services (default: sigv4a over * for an S3 Multi-Region Access Point host, else sigv4)")
	fs.StringVar(&o.regionSet, "region-set", "", "with --signing-algorithm sigv4a: comma-separated `regions` the signature is valid in, patterns such as us-east-* or * allowed (default: the region)")
	fs.BoolVar(&o.signQuery, "sign-query", false, "sign in the query string (presigned URL) instead of the Authorization header")
	fs.Int64Var(&o.maxBody, "max-body-size", int64(config.DefaultMaxBodySize), "largest body, in `bytes`, that is hashed before signing (413 above)")
	fs.IntVar(&o.shutdownTimeout, "shutdown-timeout", 30, "`seconds` to let in-flight requests finish on SIGTERM")
	fs.StringVar(&o.logLevel, "log-level", "info", "`level`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "`format`: text or json")
	fs.BoolVar(&o.pprof, "pprof", false, "serve /debug/pprof/ on the utility port")
	fs.BoolVar(&o.debugSigning, "debug-signing", false, "log each request's canonical request, string to sign and signed headers (secrets redacted); debug: true in a config file")
	fs.StringVar(&o.accessLog, "access-log", "", "one line per request to `dest`: off, stdout, stderr or a file (default: the config's access_log, else off)")
	return fs
}

// parseFlags returns nil options (and no error) when help was asked for.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := newFlagSet(o, stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  signway --forward-to URL [flags]\n  signway --config FILE\n  signway validate --config FILE\n  signway credentials check [--config FILE --route NAME]\n  signway sign [--config FILE --route NAME | --service S --region R] [-X M] [-H H]... [-d DATA] [--curl | --send] URL\n  signway demo\n  signway version\n\nFlags:\n")
		printFlags(fs, stderr)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, &usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Errorf("unexpected argument %q (commands are demo and version)", fs.Arg(0))}
	}
	// Which route flags were given: with --config they are an error.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "config", "log-level", "log-format", "shutdown-timeout", "pprof", "access-log":
		default:
			o.routeFlagsSet = append(o.routeFlagsSet, f.Name)
		}
	})
	if errs := o.validate(); len(errs) > 0 {
		return nil, &usageError{errors.Join(errs...)}
	}
	return o, nil
}

// validate checks every flag and reports all problems at once.
func (o *options) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if o.configFile != "" {
		// The file says where to listen and how to sign; the route flags
		// would be a second, conflicting answer.
		for _, f := range o.routeFlagsSet {
			bad("--%s cannot be combined with --config: set it in the config file", f)
		}
	} else if o.forwardTo == "" {
		bad("--forward-to is required (or --config FILE): the URL of the AWS endpoint, e.g. --forward-to https://my-bucket.s3.us-east-1.amazonaws.com")
	} else if u, err := url.Parse(o.forwardTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("--forward-to %q: must be an absolute http:// or https:// URL", o.forwardTo)
	} else if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		bad("--forward-to %q: must not carry user info, a query or a fragment", o.forwardTo)
	} else {
		o.target = u
	}
	var err error
	if o.mode = config.PayloadMode(o.payload); !slices.Contains(config.PayloadModes(), o.mode) {
		bad("--payload: payload mode %q is not one of auto, unsigned, signed, streaming", o.payload)
	}
	switch o.signingAlgorithm {
	case "", "sigv4", "sigv4a":
	default:
		bad("--signing-algorithm %q: use sigv4 or sigv4a", o.signingAlgorithm)
	}
	if o.regionSet != "" {
		if o.signingAlgorithm != "sigv4a" {
			bad("--region-set needs --signing-algorithm sigv4a")
		}
		for _, r := range strings.Split(o.regionSet, ",") {
			if r = strings.TrimSpace(r); r == "" || strings.ContainsAny(r, " \t") {
				bad("--region-set %q: give regions or patterns separated by commas, like us-east-1,us-west-* or *", o.regionSet)
				break
			}
			o.regions = append(o.regions, r)
		}
	}
	if o.listenOn, err = normalizeAddr(o.listenOn, "0.0.0.0"); err != nil {
		bad("--listen-on: %v", err)
	}
	if o.utilityPort, err = normalizeAddr(o.utilityPort, "0.0.0.0"); err != nil {
		bad("--utility-port: %v", err)
	}
	if o.connectTimeout <= 0 {
		bad("--connect-timeout must be at least 1 second")
	}
	if o.requestTimeout < 0 {
		bad("--request-timeout must be 0 (none) or a number of seconds")
	}
	if o.bodyIdleTimeout < 0 {
		bad("--body-idle-timeout must be 0 (none) or a number of seconds")
	}
	if o.signatureLifetime != 0 && (o.signatureLifetime < 1 || o.signatureLifetime > 604800) {
		bad("--signature-lifetime must be between 1 and 604800 seconds (7 days), got %d", o.signatureLifetime)
	}
	if (o.certFile == "") != (o.keyFile == "") {
		bad("--cert and --key go together: give both to serve TLS, or neither")
	}
	if o.maxBody <= 0 {
		bad("--max-body-size must be positive")
	}
	if o.shutdownTimeout < 0 {
		bad("--shutdown-timeout must not be negative")
	}
	if err := o.level.UnmarshalText([]byte(o.logLevel)); err != nil {
		bad("--log-level %q: use debug, info, warn or error", o.logLevel)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		bad("--log-format %q: use text or json", o.logFormat)
	}
	return errs
}

// normalizeAddr accepts "8080", ":8080" or "host:8080".
func normalizeAddr(s, defaultHost string) (string, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 65535 {
			return "", fmt.Errorf("port %d out of range", n)
		}
		return net.JoinHostPort(defaultHost, s), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is neither a port nor host:port", s)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("%q has a non-numeric port", s)
	}
	if host == "" {
		host = defaultHost
	}
	return net.JoinHostPort(host, port), nil
}

func (o *options) timeouts() (connect, request time.Duration) {
	return time.Duration(o.connectTimeout) * time.Second, time.Duration(o.requestTimeout) * time.Second
}

// printFlags lists each flag once, in the --long form with its short alias,
// its argument and its default: flag.PrintDefaults would list every alias as
// a flag of its own.
func printFlags(fs *flag.FlagSet, w io.Writer) {
	short := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, "short for --"); ok {
			short[long] = f.Name
		}
	})
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "short for --") {
			return
		}
		name := "--" + f.Name
		if s, ok := short[f.Name]; ok {
			name = "-" + s + ", " + name
		}
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			name += " " + strings.ToUpper(arg)
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  %-28s %s\n", name, usage)
	})
}
