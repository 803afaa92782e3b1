package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/credentials"
	"github.com/signway/signway/internal/gateway"
	"github.com/signway/signway/internal/signcli"
)

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
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, strings.SplitN(credentialsUsage, "\nFlags:", 2)[0]+"\n(signway credentials check --help lists the flags)\n")
		return nil
	}
	if len(args) == 0 || args[0] != "check" {
		return cliflag.Errorf(`"signway credentials" needs a subcommand: check (signway credentials check --help lists its flags)`)
	}
	fs := flag.NewFlagSet("signway credentials check", flag.ContinueOnError)
	var (
		source, profile, assumeRole, region, stsEndpoint, route, cfgFile, tokenFile string
	)
	fs.StringVar(&source, "source", "", "credential `source`: "+strings.Join(credentials.SourceNames(), ", ")+" (default: default)")
	fs.StringVar(&profile, "profile", "", "shared config `profile` (default: AWS_PROFILE, else default)")
	fs.StringVar(&assumeRole, "assume-role", "", "`ARN` of a role to assume with the source's credentials")
	fs.StringVar(&region, "region", "", "`region` for STS and SSO (default: AWS_REGION or the profile's)")
	fs.StringVar(&stsEndpoint, "sts-endpoint", "", "STS endpoint `URL` for --assume-role (default: AWS_ENDPOINT_URL_STS, else regional STS)")
	fs.StringVar(&cfgFile, "config", "", "config `file` whose route credentials to check")
	fs.StringVar(&route, "route", "", "`route` of --config to check (default: the only route)")
	fs.StringVar(&tokenFile, "token-file", "", "for per-caller web identity: a `file` holding one caller's JWT to exchange")
	if help, err := cliflag.Parse(fs, args[1:], stdout, credentialsUsage); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cliflag.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var spec gateway.CredSpec
	switch {
	case cfgFile != "":
		if source != "" || profile != "" || assumeRole != "" || region != "" || stsEndpoint != "" {
			return cliflag.Errorf("--config takes the credentials from the file: leave out --source, --profile, --assume-role, --region and --sts-endpoint")
		}
		var err error
		if spec, err = configCredSpec(cfgFile, route); err != nil {
			return err
		}
	case route != "":
		return cliflag.Errorf("--route needs --config")
	default:
		spec = gateway.CredSpec{Source: credentials.SourceSpec{Source: config.CredentialSource(source), Profile: profile, Region: region}}
		if assumeRole != "" {
			spec.Chain = []credentials.AssumeRoleOptions{{RoleARN: assumeRole, Region: region, Endpoint: stsEndpoint}}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	return checkCredentials(ctx, spec, tokenFile, stdout)
}

// checkCredentials is CheckCredentials with the caller token read from
// tokenFile.
func checkCredentials(ctx context.Context, spec gateway.CredSpec, tokenFile string, stdout io.Writer) error {
	var token string
	if spec.Caller != nil && tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	err := gateway.CheckCredentials(ctx, spec, token, stdout)
	if errors.Is(err, gateway.ErrNeedCallerToken) {
		return fmt.Errorf("%w; pass --token-file FILE holding a caller's JWT to try the exchange", err)
	}
	return err
}

// configCredSpec is the credentials of a route of the config file at path:
// the named route, else the only one.
func configCredSpec(path, route string) (gateway.CredSpec, error) {
	cfg, err := config.Load(path, nil)
	if err != nil {
		return gateway.CredSpec{}, err
	}
	r, err := signcli.PickRoute(cfg, path, route)
	if err != nil {
		return gateway.CredSpec{}, err
	}
	return gateway.RouteCredSpec(r.Credentials, r.Region)
}
