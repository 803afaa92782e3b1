// Package flagconfig owns the command line as a one-route config: the
// route's flags (--forward-to, --service, --region, ...; their definitions
// stay in cmd/signway) become a *config.Config that takes the same path as
// a config file through config.Validate, and its problems are told in the
// flags' names.
package flagconfig

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/signway/signway/internal/awsendpoint"
	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/config"
)

// Flags are the route's flags as given, with the names and meanings of
// alex-karpenko/aws-sigv4-proxy's. Durations and sizes take the config
// file's units (5s, 10MiB); plain numbers are seconds and bytes, as that
// proxy takes them.
type Flags struct {
	ForwardTo, Service, Region, AssumeRole                             string
	ListenOn, UtilityPort                                              string
	ConnectTimeout, RequestTimeout, BodyIdleTimeout, SignatureLifetime string
	CAFile                                                             string
	NoVerifySSL                                                        bool
	CertFile, KeyFile                                                  string
	Payload, SigningAlgorithm, RegionSet                               string
	SignQuery                                                          bool
	MaxBody                                                            string
	DebugSigning                                                       bool

	Set map[string]bool // the flags given, by long name
}

// Duration reads a duration in the config's syntax, or a number of
// seconds; zero is what an explicit 0 becomes.
func Duration(name, s string, zero config.Duration) (config.Duration, error) {
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

// Config turns the command line into a one-route config, so flags and
// files take one path through config.Validate and routing. Its problems
// are told in the flags' names.
func (o *Flags) Config() (*config.Config, error) {
	u, err := url.Parse(o.ForwardTo)
	if err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		service, region, err := resolveSigning(u.Host, o.Service, o.Region, envRegion())
		if err != nil {
			return nil, &cliflag.UsageError{Err: err}
		}
		o.Service, o.Region = service, region
	}
	var errs []error
	dur := func(name, s string, zero config.Duration) config.Duration {
		d, err := Duration(name, s, zero)
		if err != nil {
			errs = append(errs, err)
		}
		return d
	}
	// An explicit 0 is no limit where none is allowed; elsewhere it
	// becomes a value config.Validate refuses, as it would in a file.
	s := config.Settings{Service: o.Service, Region: o.Region, Payload: config.PayloadMode(o.Payload),
		Signing: config.Signing{Algorithm: config.Algorithm(o.SigningAlgorithm), Mode: config.SignHeader,
			Lifetime: dur("signature-lifetime", o.SignatureLifetime, config.NoTimeout)},
		Timeouts: config.Timeouts{Connect: dur("connect-timeout", o.ConnectTimeout, config.NoTimeout),
			Response: dur("request-timeout", o.RequestTimeout, config.NoTimeout),
			BodyIdle: dur("body-idle-timeout", o.BodyIdleTimeout, config.NoTimeout)},
		UpstreamTLS: config.UpstreamTLS{CAFile: o.CAFile, InsecureSkipVerify: o.NoVerifySSL},
		Credentials: config.Credentials{Source: config.SourceDefault}}
	if n, err := strconv.ParseInt(o.MaxBody, 10, 64); err == nil && n == 0 {
		s.MaxBodySize = -1
	} else if s.MaxBodySize, err = config.ParseByteSize(o.MaxBody); err != nil {
		errs = append(errs, fmt.Errorf("--max-body-size: %w", err))
	}
	if o.RegionSet != "" {
		for _, r := range strings.Split(o.RegionSet, ",") {
			s.Signing.RegionSet = append(s.Signing.RegionSet, strings.TrimSpace(r))
		}
	}
	if o.SignQuery {
		s.Signing.Mode = config.SignQuery
	}
	s.Debug = o.DebugSigning
	if o.AssumeRole != "" {
		s.Credentials.AssumeRole = &config.AssumeRole{RoleARN: o.AssumeRole}
	}
	cfg := &config.Config{Routes: []config.Route{{Name: "default", URL: o.ForwardTo, Settings: s}},
		Listen: config.Listen{TLS: config.ListenTLS{CertFile: o.CertFile, KeyFile: o.KeyFile}}}
	o.Listeners(cfg)
	if err := cfg.Validate(); err != nil {
		errs = append(errs, o.inFlagTerms(err))
	}
	if len(errs) > 0 {
		return nil, &cliflag.UsageError{Err: errors.Join(errs...)}
	}
	return cfg.WithDefaults(), nil
}

// Listeners sets the addresses given on the command line.
func (o *Flags) Listeners(cfg *config.Config) {
	if o.Set["listen-on"] {
		cfg.Listen.Address = o.ListenOn
	}
	if o.Set["utility-port"] {
		cfg.Utility.Address = o.UtilityPort
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
func (o *Flags) inFlagTerms(err error) error {
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
			msg = o.SignatureLifetime + " " + rest // the 0 given, not the "none" it stood for
		}
		if name == "" {
			errs = append(errs, errors.New(msg))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s", name, msg))
		}
	}
	return errors.Join(errs...)
}

// resolveSigning combines detection with the --service and --region flags:
// an explicit value wins, and a missing one is an error naming the flag
// that supplies it. A Multi-Region Access Point needs no region: it is
// signed with SigV4A over every region.
func resolveSigning(host, service, region, fallbackRegion string) (string, string, error) {
	d := awsendpoint.Detect(host)
	if service == "" {
		service = d.Service
	}
	if region == "" {
		region = d.Region
	}
	if region == "" {
		region = fallbackRegion
	}
	var missing []string
	if service == "" {
		missing = append(missing, fmt.Sprintf("the signing service cannot be detected from host %q: add --service (for example --service execute-api)", host))
	}
	if region == "" && !d.MultiRegion {
		missing = append(missing, fmt.Sprintf("the region cannot be detected from host %q: add --region (for example --region us-east-1) or set AWS_REGION", host))
	}
	if len(missing) > 0 {
		return "", "", errors.New(strings.Join(missing, "; "))
	}
	return service, region, nil
}

func envRegion() string {
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return os.Getenv("AWS_DEFAULT_REGION")
}
