package credentials

import (
	"cmp"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
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

// Defaults for CallerWebIdentityOptions' zero values.
const (
	DefaultCallerCacheSize  = 10000
	DefaultNegativeTTL      = 30 * time.Second
	DefaultMaxConcurrentSTS = 16
)

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
	// RefreshBefore is how long before their expiry cached credentials are
	// refreshed in the background; they are used until half of it is left.
	// Zero means DefaultRefreshBefore.
	RefreshBefore time.Duration
	// NegativeTTL is how long a token STS refused is answered with that
	// refusal without asking STS again; zero means DefaultNegativeTTL.
	NegativeTTL time.Duration
	// MaxConcurrentSTS bounds the calls to STS in flight; zero means
	// DefaultMaxConcurrentSTS.
	MaxConcurrentSTS int
	Clock            func() time.Time                      // nil means time.Now
	Jitter           func(max time.Duration) time.Duration // nil means uniformly random in [0, max)
	Logger           *slog.Logger                          // nil discards
	HTTPClient       *http.Client
	STSMetrics       STSMetrics // nil records nothing
}

// CallerWebIdentity exchanges each caller's own web identity token (an OIDC
// JWT) for temporary credentials of one role with STS
// AssumeRoleWithWebIdentity, as the Kong aws-request-signing plugin does, but
// caches per caller: the key is the token's SHA-256 and the role, so one
// caller is never handed another's credentials.
//
// From RefreshBefore (less jitter) before the credentials expire, a request
// with the token starts one refresh in the background and is answered with
// the cached credentials, which stay usable until half of RefreshBefore is
// left; only a caller with no usable entry waits for STS. A caller whose
// token's exp has passed gets nothing more, even though the credentials STS
// issued for it would still work. Concurrent requests with the same token
// share one STS call; at most MaxConcurrentSTS calls are in flight. A token
// STS refused (a 4xx) is refused again without asking STS for NegativeTTL,
// so a caller with a bad token cannot hammer STS.
//
// A CallerWebIdentity is safe for concurrent use.
type CallerWebIdentity struct {
	roleARN, session string
	duration         time.Duration
	before           time.Duration
	negativeTTL      time.Duration
	clock            func() time.Time
	jitter           func(time.Duration) time.Duration
	log              *slog.Logger
	client           *sts.Client

	sf  singleflight.Group
	sem chan struct{}  // one slot per STS call in flight
	bg  sync.WaitGroup // background refreshes; tests wait on it

	mu      sync.Mutex
	entries *lru[*callerEntry]
	refused *lru[*refusal] // the negative cache: tokens STS refused
}

type callerEntry struct {
	creds      Credentials
	refreshAt  time.Time // from here on a request starts a background refresh
	until      time.Time // not used from this instant on
	retryAt    time.Time // no background refresh before this, after one failed
	refreshing bool
}

type refusal struct {
	err   *STSError
	until time.Time
}

var (
	accountIDRe = regexp.MustCompile(`^[0-9]{12}$`)
	// 1 to 512 of these, the length checked apart: a counted repetition
	// would be compiled as 512 copies, megabytes at every start.
	roleNameRe = regexp.MustCompile(`^[\w+=,.@/-]+$`)
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
		roleARN:     roleARN,
		session:     cmp.Or(opts.SessionName, DefaultSessionName),
		duration:    opts.Duration,
		before:      cmp.Or(max(opts.RefreshBefore, 0), DefaultRefreshBefore),
		negativeTTL: cmp.Or(max(opts.NegativeTTL, 0), DefaultNegativeTTL),
		clock:       opts.Clock,
		jitter:      opts.Jitter,
		log:         opts.Logger,
		sem:         make(chan struct{}, cmp.Or(max(opts.MaxConcurrentSTS, 0), DefaultMaxConcurrentSTS)),
	}
	size := cmp.Or(max(opts.CacheSize, 0), DefaultCallerCacheSize)
	w.entries = newLRU[*callerEntry](size)
	// Refusals get their own, smaller, cache: a stream of bad tokens must
	// not evict good callers' credentials.
	w.refused = newLRU[*refusal](max(size/10, 100))
	if w.clock == nil {
		w.clock = time.Now
	}
	if w.jitter == nil {
		w.jitter = randomJitter
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With(slog.String("role_arn", roleARN))

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
	w.client = newSTSClient(cfg, opts.STSEndpoint, opts.STSMetrics)
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
	if !roleNameRe.MatchString(opts.RoleName) || len(opts.RoleName) > 512 {
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

// Retrieve returns credentials of the role for the caller holding token, from
// the cache when it can. Errors are *TokenError (the token is unusable; STS
// was not asked), *STSError (STS refused or failed, with its code; also from
// the negative cache) or *UnavailableError (STS could not be reached).
func (w *CallerWebIdentity) Retrieve(ctx context.Context, token string) (Credentials, error) {
	if token == "" {
		return Credentials{}, &TokenError{Reason: "no token in the request"}
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
	t := callerToken{token: token, key: key, id: hex.EncodeToString(sum[:6]), exp: exp}

	creds, ok, refresh, refusedErr := w.lookup(key, now)
	if refusedErr != nil {
		return Credentials{}, refusedErr
	}
	if ok {
		if refresh {
			w.bg.Add(1)
			go w.refresh(ctx, t)
		}
		return creds, nil
	}
	// Detached from ctx: other requests with the same token may be waiting
	// on this call.
	ch := w.sf.DoChan(key, func() (any, error) {
		if c, ok, _, _ := w.lookup(key, w.clock()); ok {
			return c, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		select {
		case w.sem <- struct{}{}:
			defer func() { <-w.sem }()
		case <-fctx.Done():
			return Credentials{}, &UnavailableError{Source: w.String(),
				Err: &SourceError{Source: w.String(), Reason: fmt.Sprintf("%d calls to STS already in flight for %s", cap(w.sem), fetchTimeout)}}
		}
		return w.fetch(fctx, t)
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

// callerToken is a caller's token with what is derived from it.
type callerToken struct {
	token, key string
	id         string    // a hash prefix: enough to correlate log lines, useless to an attacker
	exp        time.Time // the token's exp; zero if it has none
}

// lookup returns the usable cached credentials for key, and whether the
// caller should start a background refresh (it is then marked as
// refreshing); or the refusal STS gave the token moments ago.
func (w *CallerWebIdentity) lookup(key string, now time.Time) (c Credentials, ok, refresh bool, refused error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r, found := w.refused.get(key); found {
		if now.Before(r.until) {
			return Credentials{}, false, false, r.err
		}
		w.refused.remove(key)
	}
	e, found := w.entries.get(key)
	if !found {
		return Credentials{}, false, false, nil
	}
	if !now.Before(e.until) {
		w.entries.remove(key)
		return Credentials{}, false, false, nil
	}
	refresh = !e.refreshing && !now.Before(e.refreshAt) && !now.Before(e.retryAt)
	if refresh {
		e.refreshing = true
	}
	return e.creds, true, refresh, nil
}

// refresh replaces t's cached credentials in the background. It gives up at
// once when STS calls are at their bound: a later request tries again.
func (w *CallerWebIdentity) refresh(ctx context.Context, t callerToken) {
	defer w.bg.Done()
	select {
	case w.sem <- struct{}{}:
	default:
		w.mu.Lock()
		if e, ok := w.entries.peek(t.key); ok {
			e.refreshing = false
		}
		w.mu.Unlock()
		return
	}
	defer func() { <-w.sem }()
	_, err, _ := w.sf.Do(t.key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		return w.fetch(fctx, t)
	})
	if err == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.entries.peek(t.key); ok {
		e.refreshing = false
		e.retryAt = w.clock().Add(minRefreshInterval)
		w.log.Warn("refreshing a caller's AWS credentials failed; still serving the cached ones",
			slog.String("token_sha256", t.id), slog.Time("usable_until", e.until), slog.Any("error", err))
	}
}

// fetch calls STS itself rather than through stscreds.WebIdentityRoleProvider:
// that provider retries InvalidIdentityToken (right for a token file the
// kubelet is about to rewrite), which for a caller's bad token would only
// triple the STS calls and delay the 401.
func (w *CallerWebIdentity) fetch(ctx context.Context, t callerToken) (Credentials, error) {
	in := &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(w.roleARN),
		RoleSessionName:  aws.String(w.session),
		WebIdentityToken: aws.String(t.token),
	}
	if w.duration > 0 {
		in.DurationSeconds = aws.Int32(int32(w.duration / time.Second))
	}
	out, err := w.client.AssumeRoleWithWebIdentity(ctx, in)
	if err != nil {
		err = w.classify(err, t.token)
		w.log.Info("STS refused or failed a caller's web identity token", slog.String("token_sha256", t.id), slog.Any("error", err))
		var se *STSError
		if errors.As(err, &se) && se.StatusCode >= 400 && se.StatusCode < 500 {
			w.mu.Lock()
			w.entries.remove(t.key) // a token STS no longer accepts loses what it had
			w.refused.put(t.key, &refusal{err: se, until: w.clock().Add(w.negativeTTL)})
			w.mu.Unlock()
		}
		return Credentials{}, err
	}
	if out.Credentials == nil || out.Credentials.Expiration == nil {
		return Credentials{}, &UnavailableError{Source: w.String(), Err: &SourceError{Source: w.String(), Reason: "STS returned no credentials"}}
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
		return Credentials{}, &UnavailableError{Source: w.String(), Err: &SourceError{Source: w.String(), Reason: err.Error()}}
	}
	// The token's exp needs no margin: it only says when this caller stops
	// being trusted, while the credentials must outlast the request they sign.
	until := c.Expires.Add(-w.before / 2)
	tokenBound := !t.exp.IsZero() && t.exp.Before(until)
	if tokenBound {
		until = t.exp
	}
	refreshAt := c.Expires.Add(-w.before - w.jitter(w.before/4))
	switch {
	case tokenBound:
		// New credentials would end at the token's exp too: no refresh.
		refreshAt = until
	case !refreshAt.Before(until) || refreshAt.Before(now):
		refreshAt = now.Add(until.Sub(now) / 2)
	}
	if until.After(now) {
		w.mu.Lock()
		w.entries.put(t.key, &callerEntry{creds: c, refreshAt: refreshAt, until: until})
		w.mu.Unlock()
	} else {
		w.log.Warn("STS issued per-caller credentials that expire within the refresh margin; not caching them",
			slog.String("token_sha256", t.id), slog.Time("expires", c.Expires), slog.Duration("refresh_before", w.before))
	}
	w.log.Debug("obtained per-caller AWS credentials", slog.String("token_sha256", t.id),
		slog.String("access_key_id", c.AccessKeyID), slog.Time("expires", c.Expires),
		slog.Time("refresh_at", refreshAt), slog.Time("cached_until", until))
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

// TokenError means the caller's token cannot be exchanged: missing, not a
// JWT, or expired. STS was not called; the proxy answers 401.
type TokenError struct {
	Reason  string // safe to show the caller; never contains the token
	Expired bool
}

func (e *TokenError) Error() string { return "caller web identity token: " + e.Reason }

// IsCallerError reports whether err is the caller's fault (a bad token, or
// STS refusing it with a 4xx), to be answered 401/403 rather than 503.
func IsCallerError(err error) bool {
	var te *TokenError
	if errors.As(err, &te) {
		return true
	}
	var se *STSError
	return errors.As(err, &se) && se.StatusCode >= 400 && se.StatusCode < 500
}

// tokenExpiry returns the exp claim of a JWT, zero if it has none. The
// signature is not checked, and need not be: STS verifies the token against
// the identity provider before it issues anything. exp only bounds how long
// signway reuses what STS issued for the token.
func tokenExpiry(token string) (time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return time.Time{}, &TokenError{Reason: "not a JWT (want three dot-separated parts)"}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, &TokenError{Reason: "JWT payload is not base64url"}
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return time.Time{}, &TokenError{Reason: "JWT payload is not a JSON object"}
	}
	if claims.Exp == nil {
		return time.Time{}, nil
	}
	f, err := claims.Exp.Float64()
	if err != nil || f <= 0 || f > math.MaxInt32*16 || math.IsNaN(f) {
		return time.Time{}, &TokenError{Reason: "JWT exp claim is not a number of seconds"}
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// lru is a map bounded to max entries, dropping the least recently used.
// Not safe for concurrent use: CallerWebIdentity holds its mutex.
type lru[V any] struct {
	max   int
	ll    *list.List // of *lruItem[V], most recently used first
	items map[string]*list.Element
}

type lruItem[V any] struct {
	key string
	val V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

func (l *lru[V]) get(key string) (V, bool) {
	el, ok := l.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	l.ll.MoveToFront(el)
	return el.Value.(*lruItem[V]).val, true
}

// peek is get without making the entry more recent.
func (l *lru[V]) peek(key string) (V, bool) {
	el, ok := l.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	return el.Value.(*lruItem[V]).val, true
}

func (l *lru[V]) put(key string, v V) {
	if el, ok := l.items[key]; ok {
		el.Value.(*lruItem[V]).val = v
		l.ll.MoveToFront(el)
		return
	}
	l.items[key] = l.ll.PushFront(&lruItem[V]{key: key, val: v})
	for l.ll.Len() > l.max {
		last := l.ll.Back()
		l.ll.Remove(last)
		delete(l.items, last.Value.(*lruItem[V]).key)
	}
}

func (l *lru[V]) remove(key string) {
	if el, ok := l.items[key]; ok {
		l.ll.Remove(el)
		delete(l.items, key)
	}
}
