package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// DefaultSessionName is the STS role session name when none is configured,
// so that CloudTrail shows signway as the caller.
const DefaultSessionName = "signway"

// stsFallbackRegion is used to sign STS calls when neither the options nor
// the environment name a region: the global STS endpoint lives there.
const stsFallbackRegion = "us-east-1"

// ChainOptions configure DefaultChain.
type ChainOptions struct {
	// Profile selects a shared config profile; empty means AWS_PROFILE, else
	// "default".
	Profile string
	// Region is used by the sources that call AWS (SSO, STS for role_arn and
	// web identity profiles); empty means AWS_REGION or the profile's.
	Region string
	// HTTPClient, if set, is used for the calls to AWS (STS, SSO) and IMDS.
	// The SDK calls the container credentials endpoint with its own client.
	HTTPClient *http.Client
	// Logger receives the SDK's own log lines; nil discards them.
	Logger *slog.Logger
}

// DefaultChain returns the AWS SDK's default credential chain: environment
// variables, the shared config and credentials files (with AWS_PROFILE or
// opts.Profile: static keys, role_arn, SSO, credential_process, web
// identity), the web identity token file, ECS/EKS container credentials and
// IMDSv2. Endpoint overrides (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS, the
// config file's services sections) apply as they do in the SDK.
//
// ctx is used only while loading configuration; no credentials are fetched
// until Retrieve.
func DefaultChain(ctx context.Context, opts ChainOptions) (Provider, error) {
	name := chainName(opts.Profile)
	cfg, err := loadChain(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration for the %s: %w", name, err)
	}
	return &sdkProvider{p: cfg.Credentials, name: name}, nil
}

// loadChain loads the SDK's configuration with its credential chain resolved
// (not yet called); FromSource uses it for the profile and sso sources.
func loadChain(ctx context.Context, opts ChainOptions) (aws.Config, error) {
	lo := loadOptions(opts.Profile, opts.Region, opts.HTTPClient, opts.Logger,
		// The SDK's cache reports Expires early by its expiry window (five
		// minutes for container credentials); Cache applies its own margin
		// and needs the real expiry.
		config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow, o.ExpiryWindowJitterFrac = 0, 0
		}))
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Credentials == nil {
		return aws.Config{}, errors.New("no credential source configured")
	}
	quietProcess(&cfg)
	return cfg, nil
}

// quietProcess replaces the credential_process provider the SDK resolved for
// a profile with one that runs the same command as processSource does: the
// SDK's own copies the command's stderr to signway's. It leaves a process
// that only feeds another provider (role_arn over a source_profile) alone:
// the SDK offers no way in there.
func quietProcess(cfg *aws.Config) {
	cmd := sharedConfig(*cfg).CredentialProcess
	ps, ok := cfg.Credentials.(aws.CredentialProviderSource)
	if cmd == "" || !ok {
		return
	}
	sources := ps.ProviderSources()
	if len(sources) == 0 || sources[len(sources)-1] != aws.CredentialSourceProcess {
		return
	}
	cfg.Credentials = processcreds.NewProviderCommand(processCommand(cmd), func(o *processcreds.Options) {
		o.CredentialSources = sources
	})
}

// loadOptions are the SDK load options for a profile, a region and an HTTP
// client, each only when set, and the logger, after first.
func loadOptions(profile, region string, client *http.Client, log *slog.Logger, first ...func(*config.LoadOptions) error) []func(*config.LoadOptions) error {
	lo := append(first, withLogger(log))
	if profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		lo = append(lo, config.WithRegion(region))
	}
	if client != nil {
		lo = append(lo, config.WithHTTPClient(client))
	}
	return lo
}

func chainName(profile string) string {
	if profile == "" {
		profile = os.Getenv("AWS_PROFILE")
	}
	if profile == "" {
		return "default credential chain"
	}
	return fmt.Sprintf("default credential chain (profile %s)", profile)
}

// AssumeRoleOptions configure AssumeRole.
type AssumeRoleOptions struct {
	RoleARN string
	// SessionName is the role session name; empty means DefaultSessionName.
	SessionName    string
	ExternalID     string
	SourceIdentity string
	// Duration of the role session; zero means the SDK's default, 15 minutes.
	Duration time.Duration
	// Tags are session tags.
	Tags map[string]string
	// Region of STS (sts_region); empty means AWS_REGION or the profile's,
	// else us-east-1.
	Region string
	// Endpoint overrides the STS endpoint (for example a moto server); empty
	// means AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL or the config file, as in
	// the SDK, else the regional STS endpoint.
	Endpoint   string
	HTTPClient *http.Client
	// Logger receives the SDK's own log lines; nil discards them.
	Logger *slog.Logger
	// STSMetrics, if set, learns each STS call's latency.
	STSMetrics STSMetrics
}

// newSTSClient is an STS client for cfg, at endpoint when one is given (a
// VPC endpoint, LocalStack, moto); otherwise the SDK resolves it, honouring
// AWS_ENDPOINT_URL_STS.
func newSTSClient(cfg aws.Config, endpoint string, m STSMetrics) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		if m != nil {
			o.APIOptions = append(o.APIOptions, timeSTSCalls(m))
		}
	})
}

// AssumeRole returns a Provider that calls STS AssumeRole, signing the call
// with credentials from base. Role chaining is base being another AssumeRole
// provider. base is asked for credentials on every call to STS; give a
// *Cache as base to reuse them.
func AssumeRole(base Provider, opts AssumeRoleOptions) (Provider, error) {
	if base == nil {
		return nil, errors.New("assume role: no base credentials provider")
	}
	if opts.RoleARN == "" {
		return nil, errors.New("assume role: role ARN is empty")
	}
	if _, err := arn.Parse(opts.RoleARN); err != nil {
		return nil, fmt.Errorf("assume role: role ARN %q: %w", opts.RoleARN, err)
	}
	if opts.Duration < 0 {
		return nil, fmt.Errorf("assuming role %s: negative duration %s", opts.RoleARN, opts.Duration)
	}

	// LoadDefaultConfig rather than a bare sts.Options so that endpoint
	// overrides, retry settings, FIPS and the like are resolved as the SDK
	// does everywhere else. It only reads files and the environment.
	awsBase := ToAWS(base)
	lo := loadOptions("", opts.Region, opts.HTTPClient, opts.Logger, config.WithCredentialsProvider(awsBase))
	cfg, err := config.LoadDefaultConfig(context.Background(), lo...)
	if err != nil {
		return nil, fmt.Errorf("assuming role %s: loading AWS configuration: %w", opts.RoleARN, err)
	}
	// LoadDefaultConfig wrapped base in the SDK's cache, which would keep
	// base's credentials until they expire; base decides freshness instead.
	cfg.Credentials = awsBase
	if cfg.Region == "" {
		cfg.Region = stsFallbackRegion
	}
	client := newSTSClient(cfg, opts.Endpoint, opts.STSMetrics)

	session := opts.SessionName
	if session == "" {
		session = DefaultSessionName
	}
	p := stscreds.NewAssumeRoleProvider(client, opts.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = session
		o.Duration = opts.Duration
		if opts.ExternalID != "" {
			o.ExternalID = aws.String(opts.ExternalID)
		}
		if opts.SourceIdentity != "" {
			o.SourceIdentity = aws.String(opts.SourceIdentity)
		}
		o.Tags = sessionTags(opts.Tags)
	})
	return &assumeRoleProvider{p: p, roleARN: opts.RoleARN}, nil
}

// sessionTags sorts by key so that the STS request is the same every time.
func sessionTags(m map[string]string) []types.Tag {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return tags
}

type assumeRoleProvider struct {
	p       *stscreds.AssumeRoleProvider
	roleARN string
}

func (a *assumeRoleProvider) String() string { return "assume role " + a.roleARN }

func (a *assumeRoleProvider) Retrieve(ctx context.Context) (Credentials, error) {
	v, err := a.p.Retrieve(ctx)
	if err != nil {
		return Credentials{}, sanitize(a.String(), err)
	}
	c, err := fromSDK(v, stscreds.ProviderName)
	if err != nil {
		return Credentials{}, fmt.Errorf("assuming role %s: %w", a.roleARN, err)
	}
	return c, nil
}
