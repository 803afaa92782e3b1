package credentials

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/singleflight"
)

// DefaultCallerCacheSize bounds CallerWebIdentity's cache when
// CallerWebIdentityOptions.CacheSize is zero.
const DefaultCallerCacheSize = 10000

// CallerWebIdentityOptions configure NewCallerWebIdentity.
type CallerWebIdentityOptions struct {
	// RoleARN is the role to assume; or give AccountID and RoleName (which
	// may include a path, "team/reader"), and the ARN is built in the
	// partition of STSRegion.
	RoleARN             string
	AccountID, RoleName string
	// SessionName is the role session name; empty means DefaultSessionName.
	SessionName string
	// Duration of the role session; zero means STS's default (one hour).
	Duration time.Duration
	// STSRegion signs nothing (the call is anonymous) but picks the regional
	// STS endpoint; empty means AWS_REGION, else us-east-1.
	STSRegion string
	// STSEndpoint overrides the endpoint (a VPC endpoint, moto, LocalStack);
	// empty means AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL or the config file.
	STSEndpoint string
	// CacheSize is the most callers whose credentials are kept; zero means
	// DefaultCallerCacheSize. The least recently used are dropped first.
	CacheSize int
	// RefreshBefore is how long before their expiry cached credentials stop
	// being used; zero means DefaultRefreshBefore.
	RefreshBefore time.Duration
	Clock         func() time.Time // nil means time.Now
	Logger        *slog.Logger     // nil discards
	HTTPClient    *http.Client
}

// CallerWebIdentity exchanges each caller's own web identity token (an OIDC
// JWT) for temporary credentials of one role with STS
// AssumeRoleWithWebIdentity, as the Kong aws-request-signing plugin does, but
// caches per caller: the key is the token's SHA-256 and the role, so one
// caller is never handed another's credentials. An entry is used until the
// credentials are within RefreshBefore of expiry or the token's exp passes,
// whichever comes first: a caller whose token expired gets nothing more, even
// though the credentials STS issued for it would still work. Concurrent
// requests with the same token share one STS call.
//
// A CallerWebIdentity is safe for concurrent use.
type CallerWebIdentity struct {
	roleARN, session string
	duration         time.Duration
	before           time.Duration
	clock            func() time.Time
	log              *slog.Logger
	client           *sts.Client

	sf singleflight.Group

	mu    sync.Mutex
	max   int
	ll    *list.List // of *callerEntry, most recently used first
	items map[string]*list.Element
}

type callerEntry struct {
	key   string
	creds Credentials
	until time.Time // not used from this instant on
}

var (
	accountIDRe = regexp.MustCompile(`^[0-9]{12}$`)
	roleNameRe  = regexp.MustCompile(`^[\w+=,.@/-]{1,512}$`)
)

// NewCallerWebIdentity checks opts and prepares the STS client; it makes no
// call.
func NewCallerWebIdentity(opts CallerWebIdentityOptions) (*CallerWebIdentity, error) {
	roleARN, err := callerRoleARN(opts)
	if err != nil {
		return nil, fmt.Errorf("per-caller web identity: %w", err)
	}
	if opts.Duration != 0 && (opts.Duration < 15*time.Minute || opts.Duration > 12*time.Hour) {
		return nil, fmt.Errorf("per-caller web identity for %s: duration %s is outside STS's 15m to 12h", roleARN, opts.Duration)
	}
	w := &CallerWebIdentity{
		roleARN:  roleARN,
		session:  opts.SessionName,
		duration: opts.Duration,
		before:   opts.RefreshBefore,
		clock:    opts.Clock,
		log:      opts.Logger,
		max:      opts.CacheSize,
		ll:       list.New(),
		items:    map[string]*list.Element{},
	}
	if w.session == "" {
		w.session = DefaultSessionName
	}
	if w.before <= 0 {
		w.before = DefaultRefreshBefore
	}
	if w.clock == nil {
		w.clock = time.Now
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With(slog.String("role_arn", roleARN))
	if w.max <= 0 {
		w.max = DefaultCallerCacheSize
	}

	// The call carries no AWS signature: the caller's token is the credential.
	// Anonymous credentials also keep LoadDefaultConfig from resolving a
	// credential chain signway does not need here.
	lo := loadOptions("", opts.STSRegion, opts.HTTPClient, w.log, config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	cfg, err := config.LoadDefaultConfig(context.Background(), lo...)
	if err != nil {
		return nil, fmt.Errorf("per-caller web identity for %s: loading AWS configuration: %w", roleARN, err)
	}
	if cfg.Region == "" {
		cfg.Region = stsFallbackRegion
	}
	w.client = newSTSClient(cfg, opts.STSEndpoint)
	return w, nil
}

func callerRoleARN(opts CallerWebIdentityOptions) (string, error) {
	if opts.RoleARN != "" {
		if opts.AccountID != "" || opts.RoleName != "" {
			return "", errors.New("give either the role ARN or the account ID and role name, not both")
		}
		a, err := arn.Parse(opts.RoleARN)
		if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") {
			return "", fmt.Errorf("role ARN %q is not arn:PARTITION:iam::ACCOUNT:role/NAME", opts.RoleARN)
		}
		return opts.RoleARN, nil
	}
	if !accountIDRe.MatchString(opts.AccountID) {
		return "", fmt.Errorf("account ID %q is not 12 digits (or give the role ARN)", opts.AccountID)
	}
	if !roleNameRe.MatchString(opts.RoleName) {
		return "", fmt.Errorf("role name %q is empty or has characters IAM does not allow", opts.RoleName)
	}
	partition := "aws"
	switch r := opts.STSRegion; {
	case strings.HasPrefix(r, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(r, "us-gov-"):
		partition = "aws-us-gov"
	}
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, opts.AccountID, opts.RoleName), nil
}

// RoleARN is the role callers' tokens are exchanged for.
func (w *CallerWebIdentity) RoleARN() string { return w.roleARN }

func (w *CallerWebIdentity) String() string { return "per-caller web identity for role " + w.roleARN }

// Len is the number of callers cached.
func (w *CallerWebIdentity) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ll.Len()
}

// Provider adapts w to the Provider interface: Retrieve takes the caller's
// token from the context (WithCallerToken). Do not wrap it in a Cache, which
// would share one caller's credentials with everyone.
func (w *CallerWebIdentity) Provider() Provider { return callerProvider{w} }

type callerProvider struct{ w *CallerWebIdentity }

func (p callerProvider) String() string { return p.w.String() }

func (p callerProvider) Retrieve(ctx context.Context) (Credentials, error) {
	tok, ok := CallerToken(ctx)
	if !ok {
		return Credentials{}, errNoCallerToken
	}
	return p.w.Retrieve(ctx, tok)
}

// Retrieve returns credentials of the role for the caller holding token, from
// the cache when it can. Errors are *TokenError (the token is unusable; STS
// was not asked), *STSError (STS refused or failed, with its code) or
// *UnavailableError (STS could not be reached).
func (w *CallerWebIdentity) Retrieve(ctx context.Context, token string) (Credentials, error) {
	if token == "" {
		return Credentials{}, errNoCallerToken
	}
	exp, err := tokenExpiry(token)
	if err != nil {
		return Credentials{}, err
	}
	now := w.clock()
	if !exp.IsZero() && !now.Before(exp) {
		return Credentials{}, &TokenError{Reason: "expired at " + exp.UTC().Format(time.RFC3339), Expired: true}
	}
	sum := sha256.Sum256([]byte(token))
	key := string(sum[:]) + w.roleARN
	if c, ok := w.get(key, now); ok {
		return c, nil
	}
	tokenID := hex.EncodeToString(sum[:6]) // enough to correlate log lines, useless to an attacker

	// Detached from ctx: other requests with the same token may be waiting
	// on this call.
	ch := w.sf.DoChan(key, func() (any, error) {
		if c, ok := w.get(key, w.clock()); ok {
			return c, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		return w.fetch(fctx, key, token, tokenID, exp)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Credentials{}, r.Err
		}
		return r.Val.(Credentials), nil
	case <-ctx.Done():
		return Credentials{}, &UnavailableError{Source: w.String(), Err: ctx.Err()}
	}
}

// fetch calls STS itself rather than through stscreds.WebIdentityRoleProvider:
// that provider retries InvalidIdentityToken (right for a token file the
// kubelet is about to rewrite), which for a caller's bad token would only
// triple the STS calls and delay the 401.
func (w *CallerWebIdentity) fetch(ctx context.Context, key, token, tokenID string, tokenExp time.Time) (Credentials, error) {
	in := &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(w.roleARN),
		RoleSessionName:  aws.String(w.session),
		WebIdentityToken: aws.String(token),
	}
	if w.duration > 0 {
		in.DurationSeconds = aws.Int32(int32(w.duration / time.Second))
	}
	out, err := w.client.AssumeRoleWithWebIdentity(ctx, in)
	if err != nil {
		err = w.classify(err, token)
		w.log.Info("STS refused or failed a caller's web identity token", slog.String("token_sha256", tokenID), slog.Any("error", err))
		return Credentials{}, err
	}
	if out.Credentials == nil || out.Credentials.Expiration == nil {
		return Credentials{}, &UnavailableError{Source: w.String(), Err: errors.New("STS returned no credentials")}
	}
	c := Credentials{
		AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
		SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken:    aws.ToString(out.Credentials.SessionToken),
		CanExpire:       true,
		Expires:         *out.Credentials.Expiration,
		Source:          "AssumeRoleWithWebIdentity",
	}
	now := w.clock()
	if err := checkFresh(c, now); err != nil {
		return Credentials{}, &UnavailableError{Source: w.String(), Err: err}
	}
	// The token's exp needs no margin: it only says when this caller stops
	// being trusted, while the credentials must outlast the request they sign.
	until := c.Expires.Add(-w.before)
	if !tokenExp.IsZero() && tokenExp.Before(until) {
		until = tokenExp
	}
	if until.After(now) {
		w.put(key, c, until)
	} else {
		w.log.Warn("STS issued per-caller credentials that expire within the refresh margin; not caching them",
			slog.String("token_sha256", tokenID), slog.Time("expires", c.Expires), slog.Duration("refresh_before", w.before))
	}
	w.log.Debug("obtained per-caller AWS credentials", slog.String("token_sha256", tokenID),
		slog.String("access_key_id", c.AccessKeyID), slog.Time("expires", c.Expires), slog.Time("cached_until", until))
	return c, nil
}

// STSError is STS's own answer to AssumeRoleWithWebIdentity: its error code
// (InvalidIdentityToken, ExpiredTokenException, AccessDenied, ...), message
// (scrubbed of the token and anything like a secret) and HTTP status, for a
// route that passes STS errors through to the caller (return_sts_error).
type STSError struct {
	Code, Message string
	StatusCode    int
}

func (e *STSError) Error() string {
	return fmt.Sprintf("STS AssumeRoleWithWebIdentity: %s: %s (HTTP %d)", e.Code, e.Message, e.StatusCode)
}

func (w *CallerWebIdentity) classify(err error, token string) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return &UnavailableError{Source: w.String(), Err: sanitize(w.String(), err)}
	}
	se := &STSError{Code: safeCode(ae.ErrorCode()), Message: scrubMessage(ae.ErrorMessage(), append(strings.Split(token, "."), token)...)}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		se.StatusCode = re.HTTPStatusCode()
	}
	return se
}

func (w *CallerWebIdentity) get(key string, now time.Time) (Credentials, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	el, ok := w.items[key]
	if !ok {
		return Credentials{}, false
	}
	e := el.Value.(*callerEntry)
	if !now.Before(e.until) {
		w.ll.Remove(el)
		delete(w.items, key)
		return Credentials{}, false
	}
	w.ll.MoveToFront(el)
	return e.creds, true
}

func (w *CallerWebIdentity) put(key string, c Credentials, until time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if el, ok := w.items[key]; ok {
		e := el.Value.(*callerEntry)
		e.creds, e.until = c, until
		w.ll.MoveToFront(el)
		return
	}
	w.items[key] = w.ll.PushFront(&callerEntry{key: key, creds: c, until: until})
	for w.ll.Len() > w.max {
		last := w.ll.Back()
		w.ll.Remove(last)
		delete(w.items, last.Value.(*callerEntry).key)
	}
}
