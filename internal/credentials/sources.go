package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	sdkcreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	swconfig "github.com/signway/signway/internal/config"
)

// StaticKeys are long-term or temporary keys given in the configuration,
// their references ("${ENV_VAR}", {file: PATH}) already resolved.
type StaticKeys struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// SourceSpec selects one credential source explicitly, for a route that must
// not fall through the default chain to whatever else the host offers.
type SourceSpec struct {
	// Source is any of swconfig.CredentialSources() but the per-caller
	// one; empty means default.
	Source swconfig.CredentialSource
	// Profile is the shared config profile for default, profile, sso and
	// process; empty means AWS_PROFILE, else "default".
	Profile string
	// Static is used by the static source only.
	Static StaticKeys
	// Region is for the sources that call AWS (STS for web_identity_file and
	// role_arn profiles, SSO); empty means AWS_REGION or the profile's.
	Region string
	// STSEndpoint overrides the STS endpoint of web_identity_file (a route's
	// sts_endpoint); empty means AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL or the
	// config file, as in the SDK.
	STSEndpoint string
	// HTTPClient, if set, makes every call of the source (STS, SSO, IMDS, the
	// container endpoint).
	HTTPClient *http.Client
	// Logger receives the SDK's own log lines; nil discards them.
	Logger *slog.Logger
	// RolesAnywhere is used by the roles_anywhere source only.
	RolesAnywhere *RolesAnywhereOptions
	// STSMetrics, if set, learns the latency of web_identity_file's STS calls.
	STSMetrics STSMetrics
}

// FromSource returns a Provider for exactly the source spec names, built from
// the SDK's own provider for it. Settings the source needs (environment
// variables, profile keys) are checked here, so that a misconfigured route
// fails at start-up with what to set rather than on its first request.
// Nothing is fetched until Retrieve.
func FromSource(ctx context.Context, spec SourceSpec) (Provider, error) {
	src := spec.Source
	if src == "" {
		src = swconfig.SourceDefault
	}
	p, err := fromSource(ctx, src, spec)
	if err != nil {
		return nil, fmt.Errorf("credentials source %s: %w", src, err)
	}
	return p, nil
}

func fromSource(ctx context.Context, src swconfig.CredentialSource, spec SourceSpec) (Provider, error) {
	switch src {
	case swconfig.SourceDefault:
		return DefaultChain(ctx, ChainOptions{Profile: spec.Profile, Region: spec.Region, HTTPClient: spec.HTTPClient, Logger: spec.Logger})
	case swconfig.SourceStatic:
		k := spec.Static
		if k.AccessKeyID == "" || k.SecretAccessKey == "" {
			return nil, errors.New(`access_key_id and secret_access_key are both required (give them as "${ENV_VAR}" or {file: PATH} references)`)
		}
		return &sdkProvider{p: sdkcreds.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, k.SessionToken),
			name: "static keys " + k.AccessKeyID}, nil
	case swconfig.SourceEnv:
		env, err := config.NewEnvConfig()
		if err != nil {
			return nil, err
		}
		if !env.Credentials.HasKeys() {
			return nil, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set; set them (and AWS_SESSION_TOKEN for temporary keys)")
		}
		return &sdkProvider{p: sdkcreds.StaticCredentialsProvider{Value: env.Credentials}, name: "environment variables"}, nil
	case swconfig.SourceProfile, swconfig.SourceSSO:
		return profileSource(ctx, src, spec)
	case swconfig.SourceProcess:
		return processSource(ctx, spec)
	case swconfig.SourceWebIdentityFile:
		return webIdentityFileSource(ctx, spec)
	case swconfig.SourceContainer:
		return containerSource(ctx, spec)
	case swconfig.SourceIMDS:
		return imdsSource(ctx, spec)
	case swconfig.SourceRolesAnywhere:
		if spec.RolesAnywhere == nil {
			return nil, errors.New("roles_anywhere settings are required")
		}
		o := *spec.RolesAnywhere
		if o.HTTPClient == nil {
			o.HTTPClient = spec.HTTPClient
		}
		return RolesAnywhere(o)
	}
	return nil, fmt.Errorf("unknown source; want one of %s", strings.Join(SourceNames(), ", "))
}

func profileName(p string) string {
	if p == "" {
		p = os.Getenv("AWS_PROFILE")
	}
	if p == "" {
		p = "default"
	}
	return p
}

// loadConfig loads the SDK's configuration (region, endpoint overrides,
// retries, IMDS settings) without resolving a credential chain: the explicit
// sources build their own provider.
func loadConfig(ctx context.Context, spec SourceSpec, profile string) (aws.Config, error) {
	lo := loadOptions(profile, spec.Region, spec.HTTPClient, spec.Logger, config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return cfg, nil
}

func sharedConfig(cfg aws.Config) config.SharedConfig {
	for _, s := range cfg.ConfigSources {
		switch c := s.(type) {
		case config.SharedConfig:
			return c
		case *config.SharedConfig:
			return *c
		}
	}
	return config.SharedConfig{}
}

// profileSource resolves a profile the way the SDK does (static keys,
// role_arn with source_profile or credential_source, SSO, credential_process,
// web_identity_token_file), ignoring the environment's keys. sso additionally
// insists that the profile is an SSO profile, so that a route meant to use a
// developer's SSO login cannot silently pick up something else.
func profileSource(ctx context.Context, src swconfig.CredentialSource, spec SourceSpec) (Provider, error) {
	name := profileName(spec.Profile)
	cfg, err := loadChain(ctx, ChainOptions{Profile: name, Region: spec.Region, HTTPClient: spec.HTTPClient, Logger: spec.Logger})
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w (check AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE)", name, err)
	}
	if src == swconfig.SourceSSO {
		sc := sharedConfig(cfg)
		if sc.SSOSessionName == "" && sc.SSOStartURL == "" {
			return nil, fmt.Errorf("profile %s has neither sso_session nor sso_start_url; create one with `aws configure sso --profile %s`", name, name)
		}
		return &sdkProvider{p: cfg.Credentials, name: "SSO profile " + name}, nil
	}
	return &sdkProvider{p: cfg.Credentials, name: "profile " + name}, nil
}

// processSource runs the profile's credential_process with the SDK's
// processcreds, whatever else the profile says.
func processSource(ctx context.Context, spec SourceSpec) (Provider, error) {
	name := profileName(spec.Profile)
	cfg, err := loadConfig(ctx, spec, name)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	cmd := sharedConfig(cfg).CredentialProcess
	if cmd == "" {
		return nil, fmt.Errorf("profile %s has no credential_process; add `credential_process = COMMAND` to it in the AWS config file", name)
	}
	return &sdkProvider{p: processcreds.NewProviderCommand(processCommand(cmd)), name: "credential_process of profile " + name}, nil
}

// processCommand runs command as the SDK does (through the shell, with the
// environment), except that its stderr is discarded rather than mixed into
// signway's log stream, where it would break JSON logs and could show a
// secret, and it gets no stdin: a server has no one to answer an MFA prompt.
// Run the command by hand to see what it says.
func processCommand(command string) processcreds.NewCommandBuilderFunc {
	return func(ctx context.Context) (*exec.Cmd, error) {
		cmd, err := processcreds.DefaultNewCommandBuilder{Args: []string{command}}.NewCommand(ctx)
		if err != nil {
			return nil, err
		}
		cmd.Stderr, cmd.Stdin = nil, nil
		return cmd, nil
	}
}

// webIdentityFileSource is EKS IRSA: the SDK's web identity provider reading
// the projected token file on every call (kubelet rotates it).
func webIdentityFileSource(ctx context.Context, spec SourceSpec) (Provider, error) {
	env, err := config.NewEnvConfig()
	if err != nil {
		return nil, err
	}
	if env.WebIdentityTokenFilePath == "" || env.RoleARN == "" {
		return nil, errors.New("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must both be set (EKS sets them for a service account annotated with eks.amazonaws.com/role-arn)")
	}
	cfg, err := loadConfig(ctx, spec, "")
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = stsFallbackRegion
	}
	// AssumeRoleWithWebIdentity is unsigned: the token is the credential.
	client := newSTSClient(cfg, spec.STSEndpoint, spec.STSMetrics)
	session := env.RoleSessionName
	if session == "" {
		session = DefaultSessionName
	}
	p := stscreds.NewWebIdentityRoleProvider(client, env.RoleARN, stscreds.IdentityTokenFile(env.WebIdentityTokenFilePath),
		func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = session })
	return &sdkProvider{p: p, name: "web identity token file for role " + env.RoleARN}, nil
}

// The hosts the SDK allows for a plain-http AWS_CONTAINER_CREDENTIALS_FULL_URI:
// the container agent's credentials must not travel in clear text to
// anywhere else.
var (
	ecsContainerIP  = net.ParseIP("169.254.170.2")
	eksPodIdentity  = net.ParseIP("169.254.170.23")
	eksPodIdentity6 = net.ParseIP("fd00:ec2::23")
)

// containerSource is ECS task roles (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)
// and EKS Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI with
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), with the SDK's endpointcreds.
func containerSource(ctx context.Context, spec SourceSpec) (Provider, error) {
	env, err := config.NewEnvConfig()
	if err != nil {
		return nil, err
	}
	var endpoint string
	switch {
	case env.ContainerCredentialsRelativePath != "": // the SDK's precedence
		endpoint = "http://" + ecsContainerIP.String() + env.ContainerCredentialsRelativePath
	case env.ContainerCredentialsEndpoint != "":
		endpoint = env.ContainerCredentialsEndpoint
		if err := checkContainerEndpoint(ctx, endpoint); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS) nor AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity) is set")
	}
	cfg, err := loadConfig(ctx, spec, "")
	if err != nil {
		return nil, err
	}
	tokenFile := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	p := endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		if spec.HTTPClient != nil {
			o.HTTPClient = spec.HTTPClient
		}
		if cfg.Retryer != nil {
			o.Retryer = cfg.Retryer()
		}
		o.AuthorizationToken = env.ContainerAuthorizationToken
		if tokenFile != "" {
			// Read on every call: EKS rotates the Pod Identity token.
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return "", fmt.Errorf("reading AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", err)
				}
				return strings.TrimSpace(string(b)), nil
			})
		}
	})
	return &sdkProvider{p: p, name: "container credentials endpoint " + redactURL(endpoint)}, nil
}

func checkContainerEndpoint(ctx context.Context, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return errors.New("AWS_CONTAINER_CREDENTIALS_FULL_URI is not an absolute URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme != "http" {
		return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI has scheme %q; want http or https", u.Scheme)
	}
	ips := []string{u.Hostname()}
	if net.ParseIP(u.Hostname()) == nil {
		if ips, err = net.DefaultResolver.LookupHost(ctx, u.Hostname()); err != nil {
			return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI: resolving %s: %w", u.Hostname(), err)
		}
	}
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil || !(ip.IsLoopback() || ip.Equal(ecsContainerIP) || ip.Equal(eksPodIdentity) || ip.Equal(eksPodIdentity6)) {
			return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI host %s is not loopback or the ECS/EKS agent address; plain http is refused elsewhere (use https)", u.Hostname())
		}
	}
	return nil
}

// redactURL drops a query string and user info, which might carry a secret.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// imdsSource is the EC2 instance profile through the SDK's IMDS client, which
// uses the IMDSv2 session-token flow (falling back to v1 only if
// AWS_EC2_METADATA_V1_DISABLED is not set and the token call is refused, as
// every SDK does).
func imdsSource(ctx context.Context, spec SourceSpec) (Provider, error) {
	if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		return nil, errors.New("AWS_EC2_METADATA_DISABLED is true; unset it to use the instance profile")
	}
	cfg, err := loadConfig(ctx, spec, "")
	if err != nil {
		return nil, err
	}
	client := imds.NewFromConfig(cfg)
	return &sdkProvider{p: ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }), name: "EC2 instance profile (IMDSv2)"}, nil
}

// SourceNames lists the sources FromSource takes: every one but the
// per-caller one, which is built from each request's token.
func SourceNames() []string {
	var out []string
	for _, s := range swconfig.CredentialSources() {
		if s != swconfig.SourceCallerWebIdentity {
			out = append(out, string(s))
		}
	}
	return out
}
