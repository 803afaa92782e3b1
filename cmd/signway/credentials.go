package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/credentials"
)

// credSpec is what a route, or the command line, says about its credentials,
// in the credentials package's terms.
type credSpec struct {
	source credentials.SourceSpec
	// chain is assumed in order, each role with the credentials of the one
	// before it (role chaining); empty signs with source's credentials.
	chain []credentials.AssumeRoleOptions
	// caller, when set, replaces source and chain: each caller's own token
	// is exchanged for the role.
	caller *credentials.CallerWebIdentityOptions
	// metrics receives the caches' refreshes and STS latency; nil records
	// nothing. Not part of what makes two specs the same.
	metrics *admin.Metrics
}

// checkTimeout bounds `credentials check`: the default chain can spend
// seconds probing IMDS on a machine that is not on EC2.
const checkTimeout = 30 * time.Second

const credentialsUsage = `Usage:
  signway credentials check [--source S] [--profile P] [--assume-role ARN] [--region R]
  signway credentials check --config FILE [--route NAME] [--token-file JWT]

Obtains AWS credentials the way signway would and prints where they came
from, the access key ID and when they expire (never the secret). Exits
non-zero, with the reason, when none can be had.

Flags:
`

// runCredentials is `signway credentials ...`; args follow "credentials".
func runCredentials(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, credentialsUsage)
		return &usageError{errors.New(`"signway credentials" needs a subcommand: check`)}
	}
	fs := flag.NewFlagSet("signway credentials check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		source, profile, assumeRole, region, stsEndpoint, route, cfgFile, tokenFile string
	)
	fs.StringVar(&source, "source", "", "credential source: "+strings.Join(credentials.SourceNames(), ", ")+" (default: default)")
	fs.StringVar(&profile, "profile", "", "shared config profile (default: AWS_PROFILE, else default)")
	fs.StringVar(&assumeRole, "assume-role", "", "ARN of a role to assume with the source's credentials")
	fs.StringVar(&region, "region", "", "region for STS and SSO (default: AWS_REGION or the profile's)")
	fs.StringVar(&stsEndpoint, "sts-endpoint", "", "STS endpoint URL for --assume-role (default: AWS_ENDPOINT_URL_STS, else regional STS)")
	fs.StringVar(&cfgFile, "config", "", "config file whose route credentials to check")
	fs.StringVar(&route, "route", "", "route of --config to check (default: the only route)")
	fs.StringVar(&tokenFile, "token-file", "", "for per-caller web identity: a file holding one caller's JWT to exchange")
	fs.Usage = func() {
		fmt.Fprint(stderr, credentialsUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	var spec credSpec
	switch {
	case cfgFile != "":
		if source != "" || profile != "" || assumeRole != "" || region != "" || stsEndpoint != "" {
			return &usageError{errors.New("--config takes the credentials from the file: leave out --source, --profile, --assume-role, --region and --sts-endpoint")}
		}
		var err error
		if spec, err = configCredSpec(cfgFile, route); err != nil {
			return err
		}
	case route != "":
		return &usageError{errors.New("--route needs --config")}
	default:
		spec = credSpec{source: credentials.SourceSpec{Source: config.CredentialSource(source), Profile: profile, Region: region}}
		if assumeRole != "" {
			spec.chain = []credentials.AssumeRoleOptions{{RoleARN: assumeRole, Region: region, Endpoint: stsEndpoint}}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	return checkCredentials(ctx, spec, tokenFile, stdout)
}

// checkCredentials obtains credentials as spec describes, one hop at a time
// so that a failure names the hop, and prints what it got.
func checkCredentials(ctx context.Context, spec credSpec, tokenFile string, stdout io.Writer) error {
	if spec.caller != nil {
		return checkCallerWebIdentity(ctx, *spec.caller, tokenFile, stdout)
	}
	var lines [][2]string
	var got credentials.Credentials
	_, _, err := credentialChain(ctx, spec, nil, func(c *credentials.Cache, role string) error {
		var err error
		if got, err = c.Retrieve(ctx); err != nil {
			if role == "" {
				return fmt.Errorf("no AWS credentials: %w%s", err, hint(spec.source.Source))
			}
			return fmt.Errorf("no AWS credentials: %w", err)
		}
		if role == "" {
			lines = append(lines, [2]string{"source", fmt.Sprintf("%s (%s)", c, got.Source)})
		} else {
			lines = append(lines, [2]string{"assumed role", role})
		}
		return nil
	})
	if err != nil {
		return err
	}
	printCredentials(stdout, lines, got)
	return nil
}

func checkCallerWebIdentity(ctx context.Context, opts credentials.CallerWebIdentityOptions, tokenFile string, stdout io.Writer) error {
	w, err := credentials.NewCallerWebIdentity(opts)
	if err != nil {
		return err
	}
	if tokenFile == "" {
		return fmt.Errorf("%s: credentials come from each caller's token; pass --token-file FILE holding a caller's JWT to try the exchange", w)
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	got, err := w.Retrieve(ctx, tok)
	if err != nil {
		return fmt.Errorf("no AWS credentials: %w", err)
	}
	sum := sha256.Sum256([]byte(tok))
	printCredentials(stdout, [][2]string{
		{"source", fmt.Sprintf("%s (%s)", w, got.Source)},
		{"caller token", "sha256 " + hex.EncodeToString(sum[:6]) + "…"},
	}, got)
	return nil
}

// printCredentials never prints the secret or the session token.
func printCredentials(w io.Writer, lines [][2]string, c credentials.Credentials) {
	exp := "never (long-term keys)"
	if c.CanExpire {
		exp = fmt.Sprintf("%s (in %s)", c.Expires.UTC().Format(time.RFC3339), time.Until(c.Expires).Round(time.Second))
	}
	lines = append(lines, [2]string{"access key ID", c.AccessKeyID}, [2]string{"expires", exp})
	for _, l := range lines {
		fmt.Fprintf(w, "%-14s %s\n", l[0]+":", l[1])
	}
}

// hint says where to look when the default chain found nothing, which is
// the common first-run failure.
func hint(source config.CredentialSource) string {
	if source != "" && source != config.SourceDefault {
		return ""
	}
	return "\n(the default chain tried environment variables, the shared config and credentials files, SSO, credential_process, a web identity token file, container credentials and IMDS; see docs/credentials.md)"
}

// configCredSpec is the credentials of a route of the config file at path:
// the named route, else the only one.
func configCredSpec(path, route string) (credSpec, error) {
	cfg, err := config.Load(path, nil)
	if err != nil {
		return credSpec{}, err
	}
	r, err := pickRoute(cfg, path, route)
	if err != nil {
		return credSpec{}, err
	}
	return routeCredSpec(r.Credentials, r.Region)
}

// routeCredSpec translates a route's credentials block, whose defaults
// config.Load has filled in; region is the route's signing region, the
// default STS region.
func routeCredSpec(c config.Credentials, region string) (credSpec, error) {
	if c.Source == config.SourceCallerWebIdentity {
		w := c.WebIdentity
		if w == nil {
			return credSpec{}, errors.New("source caller_web_identity needs a web_identity block")
		}
		return credSpec{caller: &credentials.CallerWebIdentityOptions{
			RoleARN: w.RoleARN, AccountID: w.AccountID, RoleName: w.RoleName,
			SessionName: w.SessionName, Duration: w.Duration.D(), CacheSize: w.CacheSize,
			STSRegion: cmp.Or(w.STSRegion, region), STSEndpoint: w.STSEndpoint,
		}}, nil
	}
	spec := credSpec{source: credentials.SourceSpec{Source: c.Source, Profile: c.Profile, Region: region}}
	if c.Source == config.SourceStatic {
		var errs []error
		val := func(s config.Secret, field string) string {
			v, err := s.Value()
			if err != nil {
				errs = append(errs, fmt.Errorf("credentials.%s: %w", field, err))
			}
			return v
		}
		spec.source.Static = credentials.StaticKeys{
			AccessKeyID:     val(c.AccessKeyID, "access_key_id"),
			SecretAccessKey: val(c.SecretAccessKey, "secret_access_key"),
			SessionToken:    val(c.SessionToken, "session_token"),
		}
		if err := errors.Join(errs...); err != nil {
			return credSpec{}, err
		}
	}
	if ar := c.AssumeRole; ar != nil {
		for _, r := range append([]config.AssumeRole{*ar}, ar.Chain...) {
			spec.chain = append(spec.chain, credentials.AssumeRoleOptions{
				RoleARN: r.RoleARN, SessionName: r.SessionName, ExternalID: r.ExternalID,
				SourceIdentity: r.SourceIdentity, Duration: r.Duration.D(), Tags: r.Tags,
				Region: cmp.Or(r.STSRegion, region), Endpoint: r.STSEndpoint,
			})
		}
	}
	return spec, nil
}
