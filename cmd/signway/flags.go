package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/flagconfig"
)

// options are the command line: the route's flags, which flagconfig makes
// a one-route config of, and the process's own.
type options struct {
	flagconfig.Flags
	configFile      string
	shutdownTimeout string
	logLevel        string
	logFormat       string
	pprof           bool
	accessLog       string

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
	str(&o.ForwardTo, "forward-to", "f", "", "`URL` of the AWS service to forward signed requests to (required without --config)")
	str(&o.Service, "service", "s", "", "AWS signing `service` name (default: detected from --forward-to)")
	str(&o.Region, "region", "r", "", "signing `region` (default: detected from --forward-to, else AWS_REGION)")
	str(&o.AssumeRole, "assume-role", "a", "", "`ARN` of an IAM role to assume for signing")
	str(&o.ListenOn, "listen-on", "l", config.DefaultListenAddress, "`address` (or port) to accept requests on; overrides the config file's")
	str(&o.UtilityPort, "utility-port", "u", "9090", "`port` (or address) for /healthz, /readyz and /metrics; overrides the config file's")
	fs.StringVar(&o.ConnectTimeout, "connect-timeout", config.DefaultConnectTimeout.String(), "`duration` to connect to the upstream, TLS included (5s; a number is seconds)")
	fs.StringVar(&o.RequestTimeout, "request-timeout", config.DefaultResponseTimeout.String(), "`duration` from the upstream receiving a request to its response headers; 0 or none for no limit")
	fs.StringVar(&o.BodyIdleTimeout, "body-idle-timeout", config.DefaultBodyIdleTimeout.String(), "`duration` a request body may go without progress (caller: 408, upstream: 504); 0 or none for no limit")
	fs.StringVar(&o.SignatureLifetime, "signature-lifetime", config.DefaultLifetime.String(), "`duration` a query signature stays valid with --sign-query, 1s to 7d")
	fs.StringVar(&o.CAFile, "ca", "", "PEM `file` of extra root CAs for upstream TLS")
	fs.BoolVar(&o.NoVerifySSL, "no-verify-ssl", false, "DANGEROUS: do not verify the upstream's TLS certificate")
	str(&o.CertFile, "cert", "c", "", "PEM certificate (chain) `file` to serve TLS with; reloaded when the file changes")
	str(&o.KeyFile, "key", "k", "", "PEM private key `file` for --cert")
	fs.StringVar(&o.Payload, "payload", string(config.DefaultPayload), "how bodies are signed (`mode`): auto, unsigned, signed or streaming")
	fs.StringVar(&o.SigningAlgorithm, "signing-algorithm", "", "`algorithm`: sigv4, or sigv4a for SigV4A services (default: sigv4a over * for an S3 Multi-Region Access Point host, else sigv4)")
	fs.StringVar(&o.RegionSet, "region-set", "", "with --signing-algorithm sigv4a: comma-separated `regions` the signature is valid in, patterns such as us-east-* or * allowed (default: the region)")
	fs.BoolVar(&o.SignQuery, "sign-query", false, "sign in the query string (presigned URL) instead of the Authorization header")
	fs.StringVar(&o.MaxBody, "max-body-size", config.DefaultMaxBodySize.String(), "largest body that is hashed before signing, 413 above (`size`: 10MiB, 1GB; a number is bytes)")
	fs.StringVar(&o.shutdownTimeout, "shutdown-timeout", "30s", "`duration` to let in-flight requests finish on SIGTERM")
	fs.StringVar(&o.logLevel, "log-level", "info", "`level`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "`format`: text or json")
	fs.BoolVar(&o.pprof, "pprof", false, "serve /debug/pprof/ on the utility port")
	fs.BoolVar(&o.DebugSigning, "debug-signing", false, "log each request's canonical request, string to sign and signed headers (secrets redacted); debug: true in a config file")
	fs.StringVar(&o.accessLog, "access-log", "", "one line per request to `dest`: off, stdout, stderr or a file (default: the config's access_log, else off)")
	return fs
}

// parseFlags returns nil options (and no error) when help was asked for;
// the help goes to stdout.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := &options{Flags: flagconfig.Flags{Set: map[string]bool{}}}
	fs := newFlagSet(o)
	if help, err := cliflag.Parse(fs, args, stdout, serveUsage+commandList()+"\nFlags:\n"); help || err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, unknownCommand(fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { o.Set[cliflag.LongName(fs, f)] = true })
	var errs []error
	if o.configFile != "" {
		// The file says how to sign; the route flags would be a second,
		// conflicting answer. Addresses and logging are the process's.
		for _, f := range slices.Sorted(maps.Keys(o.Set)) {
			switch f {
			case "config", "listen-on", "utility-port", "log-level", "log-format", "shutdown-timeout", "pprof", "access-log":
			default:
				errs = append(errs, fmt.Errorf("--%s cannot be combined with --config: set it in the config file", f))
			}
		}
	} else if o.ForwardTo == "" {
		errs = append(errs, errors.New("--forward-to is required (or --config FILE): the URL of the AWS endpoint, e.g. --forward-to https://my-bucket.s3.us-east-1.amazonaws.com"))
	}
	// What is not a config setting is checked here; the rest by
	// config.Validate, through flagconfig.
	if d, err := flagconfig.Duration("shutdown-timeout", o.shutdownTimeout, 0); err != nil {
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
