package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/config"
)

// options are the command line, with the names and meanings of
// alex-karpenko/aws-sigv4-proxy's flags so signway can replace it as is.
// Durations and sizes take the config file's units (5s, 10MiB); plain
// numbers are seconds and bytes, as that proxy takes them.
type options struct {
	configFile        string
	forwardTo         string
	service           string
	region            string
	assumeRole        string
	listenOn          string
	utilityPort       string
	connectTimeout    string
	requestTimeout    string
	bodyIdleTimeout   string
	signatureLifetime string
	caFile            string
	noVerifySSL       bool
	certFile          string
	keyFile           string
	payload           string
	signingAlgorithm  string
	regionSet         string
	signQuery         bool
	maxBody           string
	shutdownTimeout   string
	logLevel          string
	logFormat         string
	pprof             bool
	debugSigning      bool
	accessLog         string

	set map[string]bool // the flags given, by long name

	target   *url.URL
	shutdown time.Duration
	level    slog.Level
}

const serveUsage = `Usage:
  signway --forward-to URL [flags]   sign and forward to one upstream
  signway --config FILE [flags]      many routes, callers, hosts (docs/config.md)
  signway COMMAND [flags]            see the commands below

`

func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("signway", flag.ContinueOnError)
	str := func(p *string, long, short, def, usage string) {
		fs.StringVar(p, long, def, usage)
		if short != "" {
			fs.StringVar(p, short, def, "short for --"+long)
		}
	}
	str(&o.configFile, "config", "", "", "YAML config `file` with many routes (see docs/config.md); reloaded on SIGHUP and when it or a secret file it names changes")
	str(&o.forwardTo, "forward-to", "f", "", "`URL` of the AWS service to forward signed requests to (required without --config)")
	str(&o.service, "service", "s", "", "AWS signing `service` name (default: detected from --forward-to)")
	str(&o.region, "region", "r", "", "signing `region` (default: detected from --forward-to, else AWS_REGION)")
	str(&o.assumeRole, "assume-role", "a", "", "`ARN` of an IAM role to assume for signing")
	str(&o.listenOn, "listen-on", "l", config.DefaultListenAddress, "`address` (or port) to accept requests on; overrides the config file's")
	str(&o.utilityPort, "utility-port", "u", "9090", "`port` (or address) for /healthz, /readyz and /metrics; overrides the config file's")
	fs.StringVar(&o.connectTimeout, "connect-timeout", config.DefaultConnectTimeout.String(), "`duration` to connect to the upstream, TLS included (5s; a number is seconds)")
	fs.StringVar(&o.requestTimeout, "request-timeout", config.DefaultResponseTimeout.String(), "`duration` from the upstream receiving a request to its response headers; 0 or none for no limit")
	fs.StringVar(&o.bodyIdleTimeout, "body-idle-timeout", config.DefaultBodyIdleTimeout.String(), "`duration` a request body may go without progress (caller: 408, upstream: 504); 0 or none for no limit")
	fs.StringVar(&o.signatureLifetime, "signature-lifetime", config.DefaultLifetime.String(), "`duration` a query signature stays valid with --sign-query, 1s to 7d")
	fs.StringVar(&o.caFile, "ca", "", "PEM `file` of extra root CAs for upstream TLS")
	fs.BoolVar(&o.noVerifySSL, "no-verify-ssl", false, "DANGEROUS: do not verify the upstream's TLS certificate")
	str(&o.certFile, "cert", "c", "", "PEM certificate (chain) `file` to serve TLS with; reloaded when the file changes")
	str(&o.keyFile, "key", "k", "", "PEM private key `file` for --cert")
	fs.StringVar(&o.payload, "payload", string(config.DefaultPayload), "how bodies are signed (`mode`): auto, unsigned, signed or streaming")
	fs.StringVar(&o.signingAlgorithm, "signing-algorithm", "", "`algorithm`: sigv4, or sigv4a for SigV4A services (default: sigv4a over * for an S3 Multi-Region Access Point host, else sigv4)")
	fs.StringVar(&o.regionSet, "region-set", "", "with --signing-algorithm sigv4a: comma-separated `regions` the signature is valid in, patterns such as us-east-* or * allowed (default: the region)")
	fs.BoolVar(&o.signQuery, "sign-query", false, "sign in the query string (presigned URL) instead of the Authorization header")
	fs.StringVar(&o.maxBody, "max-body-size", config.DefaultMaxBodySize.String(), "largest body that is hashed before signing, 413 above (`size`: 10MiB, 1GB; a number is bytes)")
	fs.StringVar(&o.shutdownTimeout, "shutdown-timeout", "30s", "`duration` to let in-flight requests finish on SIGTERM")
	fs.StringVar(&o.logLevel, "log-level", "info", "`level`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "`format`: text or json")
	fs.BoolVar(&o.pprof, "pprof", false, "serve /debug/pprof/ on the utility port")
	fs.BoolVar(&o.debugSigning, "debug-signing", false, "log each request's canonical request, string to sign and signed headers (secrets redacted); debug: true in a config file")
	fs.StringVar(&o.accessLog, "access-log", "", "one line per request to `dest`: off, stdout, stderr or a file (default: the config's access_log, else off)")
	return fs
}

// parseFlags returns nil options (and no error) when help was asked for;
// the help goes to stdout.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := &options{set: map[string]bool{}}
	fs := newFlagSet(o)
	if help, err := cliflag.Parse(fs, args, stdout, serveUsage+commandList()+"\nFlags:\n"); help || err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, unknownCommand(fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { o.set[cliflag.LongName(fs, f)] = true })
	var errs []error
	if o.configFile != "" {
		// The file says how to sign; the route flags would be a second,
		// conflicting answer. Addresses and logging are the process's.
		for _, f := range slices.Sorted(maps.Keys(o.set)) {
			switch f {
			case "config", "listen-on", "utility-port", "log-level", "log-format", "shutdown-timeout", "pprof", "access-log":
			default:
				errs = append(errs, fmt.Errorf("--%s cannot be combined with --config: set it in the config file", f))
			}
		}
	} else if o.forwardTo == "" {
		errs = append(errs, errors.New("--forward-to is required (or --config FILE): the URL of the AWS endpoint, e.g. --forward-to https://my-bucket.s3.us-east-1.amazonaws.com"))
	}
	// What is not a config setting is checked here; the rest by
	// config.Validate, through asConfig.
	if d, err := durationFlag("shutdown-timeout", o.shutdownTimeout, 0); err != nil {
		errs = append(errs, err)
	} else if d < 0 {
		errs = append(errs, errors.New("--shutdown-timeout must be a duration such as 30s"))
	} else {
		o.shutdown = d.D()
	}
	if err := o.level.UnmarshalText([]byte(o.logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: use debug, info, warn or error", o.logLevel))
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: use text or json", o.logFormat))
	}
	if len(errs) > 0 {
		return nil, &cliflag.UsageError{Err: errors.Join(errs...)}
	}
	return o, nil
}

// durationFlag reads a duration in the config's syntax, or a number of
// seconds; zero is what an explicit 0 becomes.
func durationFlag(name, s string, zero config.Duration) (config.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		switch {
		case n < 0 && zero == config.NoTimeout:
			return 0, fmt.Errorf("--%s must be 0 (none) or a duration such as 30s, got %s", name, s)
		case n < 0:
			return 0, fmt.Errorf("--%s must be a duration such as 30s, got %s", name, s)
		case n == 0:
			return zero, nil
		}
		return config.Duration(time.Duration(n) * time.Second), nil
	}
	d, err := config.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", name, err)
	}
	return d, nil
}

// asConfig turns the command line into a one-route config, so flags and
// files take one path through config.Validate and routing. Its problems
// are told in the flags' names.
func (o *options) asConfig() (*config.Config, error) {
	u, err := url.Parse(o.forwardTo)
	if err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		o.target = u
		service, region, err := resolveSigning(u.Host, o.service, o.region, envRegion())
		if err != nil {
			return nil, &cliflag.UsageError{Err: err}
		}
		o.service, o.region = service, region
	}
	var errs []error
	dur := func(name, s string, zero config.Duration) config.Duration {
		d, err := durationFlag(name, s, zero)
		if err != nil {
			errs = append(errs, err)
		}
		return d
	}
	// An explicit 0 is no limit where none is allowed; elsewhere it
	// becomes a value config.Validate refuses, as it would in a file.
	s := config.Settings{Service: o.service, Region: o.region, Payload: config.PayloadMode(o.payload),
		Signing: config.Signing{Algorithm: config.Algorithm(o.signingAlgorithm), Mode: config.SignHeader,
			Lifetime: dur("signature-lifetime", o.signatureLifetime, config.NoTimeout)},
		Timeouts: config.Timeouts{Connect: dur("connect-timeout", o.connectTimeout, config.NoTimeout),
			Response: dur("request-timeout", o.requestTimeout, config.NoTimeout),
			BodyIdle: dur("body-idle-timeout", o.bodyIdleTimeout, config.NoTimeout)},
		UpstreamTLS: config.UpstreamTLS{CAFile: o.caFile, InsecureSkipVerify: o.noVerifySSL},
		Credentials: config.Credentials{Source: config.SourceDefault}}
	if n, err := strconv.ParseInt(o.maxBody, 10, 64); err == nil && n == 0 {
		s.MaxBodySize = -1
	} else if s.MaxBodySize, err = config.ParseByteSize(o.maxBody); err != nil {
		errs = append(errs, fmt.Errorf("--max-body-size: %w", err))
	}
	if o.regionSet != "" {
		for _, r := range strings.Split(o.regionSet, ",") {
			s.Signing.RegionSet = append(s.Signing.RegionSet, strings.TrimSpace(r))
		}
	}
	if o.signQuery {
		s.Signing.Mode = config.SignQuery
	}
	s.Debug = o.debugSigning
	if o.assumeRole != "" {
		s.Credentials.AssumeRole = &config.AssumeRole{RoleARN: o.assumeRole}
	}
	cfg := &config.Config{Routes: []config.Route{{Name: "default", URL: o.forwardTo, Settings: s}},
		Listen: config.Listen{TLS: config.ListenTLS{CertFile: o.certFile, KeyFile: o.keyFile}}}
	o.listeners(cfg)
	if err := cfg.Validate(); err != nil {
		errs = append(errs, o.inFlagTerms(err))
	}
	if len(errs) > 0 {
		return nil, &cliflag.UsageError{Err: errors.Join(errs...)}
	}
	return cfg.WithDefaults(), nil
}

// listeners sets the addresses given on the command line.
func (o *options) listeners(cfg *config.Config) {
	if o.set["listen-on"] {
		cfg.Listen.Address = o.listenOn
	}
	if o.set["utility-port"] {
		cfg.Utility.Address = o.utilityPort
	}
}

// flagOfField names the flag behind each config field the command line
// sets, most specific first.
var flagOfField = []struct{ field, flag string }{
	{"routes[0].url", "--forward-to"}, {"routes[0].service", "--service"}, {"routes[0].region", "--region"},
	{"routes[0].credentials.assume_role", "--assume-role"}, {"routes[0].timeouts.connect", "--connect-timeout"},
	{"routes[0].timeouts.response", "--request-timeout"}, {"routes[0].timeouts.body_idle", "--body-idle-timeout"},
	{"routes[0].signing.lifetime", "--signature-lifetime"}, {"routes[0].signing.algorithm", "--signing-algorithm"},
	{"routes[0].signing.region_set", "--region-set"}, {"routes[0].signing", "--sign-query"},
	{"routes[0].payload", "--payload"}, {"routes[0].max_body_size", "--max-body-size"},
	{"routes[0].upstream_tls", "--ca"}, {"listen.address", "--listen-on"}, {"utility.address", "--utility-port"},
	{"listen.tls", ""}, {"routes[0]", "--forward-to"},
}

var configWords = strings.NewReplacer("cert_file and key_file", "--cert and --key", "listen.address", "--listen-on")

// inFlagTerms retells config.Validate's problems in the flags' names:
// "routes[0].timeouts.connect: must be ..." becomes "--connect-timeout: must be ...".
func (o *options) inFlagTerms(err error) error {
	var pe *config.ProblemsError
	if !errors.As(err, &pe) {
		return err
	}
	var errs []error
	for _, p := range pe.Problems {
		msg := configWords.Replace(p.Message)
		name := p.Field
		for _, m := range flagOfField {
			if p.Field == m.field || strings.HasPrefix(p.Field, m.field+".") || strings.HasPrefix(p.Field, m.field+"[") {
				name = m.flag
				break
			}
		}
		if rest, ok := strings.CutPrefix(msg, "none "); ok && name == "--signature-lifetime" {
			msg = o.signatureLifetime + " " + rest // the 0 given, not the "none" it stood for
		}
		if name == "" {
			errs = append(errs, errors.New(msg))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s", name, msg))
		}
	}
	return errors.Join(errs...)
}
