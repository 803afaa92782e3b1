package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/sigv4"
)

// Metrics is what authentication reports; *admin.Metrics implements it.
type Metrics interface {
	AuthFailure(route, reason string)
	// CallerRequest counts an admitted request once answered; caller is a
	// bounded label (see Authenticator.callerLabel).
	CallerRequest(route, caller string, status int)
}

// Options build an Authenticator for one route.
type Options struct {
	Route string
	// Auth is the route's merged auth block.
	Auth config.Auth
	// Callers is the config generation's callers.
	Callers *Callers
	// JWT verifies bearer tokens; required when Auth accepts jwt.
	JWT *JWTVerifier
	// S3 answers in S3's XML error document (as SigV4 callers always are).
	S3      bool
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics Metrics
}

// Authenticator admits or refuses the callers of one route.
type Authenticator struct {
	o          Options
	apiHeader  string // canonical
	apiName    string // as configured, for messages
	challenges []string
}

// New builds the route's Authenticator; nil (and no error) when the route
// does not authenticate callers.
func New(o Options) (*Authenticator, error) {
	if !o.Auth.Enabled() {
		return nil, nil
	}
	if o.Callers == nil {
		o.Callers = &Callers{}
	}
	if o.Auth.Accepts(config.AuthJWT) && o.JWT == nil {
		return nil, fmt.Errorf("route %q accepts jwt but has no JWT verifier", o.Route)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{o: o}
	for _, m := range o.Auth.Methods {
		switch m {
		case config.AuthAPIKey:
			a.apiName = o.Auth.APIKeyHeader
			if a.apiName == "" {
				a.apiName = config.DefaultAPIKeyHeader
			}
			a.apiHeader = http.CanonicalHeaderKey(a.apiName)
			a.challenges = append(a.challenges, fmt.Sprintf(`APIKey realm="signway", header="%s"`, a.apiName))
		case config.AuthSigV4:
			a.challenges = append(a.challenges, `AWS4-HMAC-SHA256 realm="signway"`)
		case config.AuthJWT:
			a.challenges = append(a.challenges, `Bearer realm="signway"`)
		}
	}
	return a, nil
}

// Result is an admitted request.
type Result struct {
	Caller *Caller
	// Verified is the caller's SigV4 signature, for a SigV4 caller: its
	// aws-chunked body must be checked against it.
	Verified *sigv4.Verified
}

// Authenticate identifies the caller of r, checks the allow list and the
// rate limit. It reads only headers, the query and the TLS state: the body
// of a SigV4 caller is checked as it streams (Result.Verified).
func (a *Authenticator) Authenticate(r *http.Request) (*Result, *Error) {
	res, err := a.identify(r)
	if err != nil {
		return nil, err
	}
	c := res.Caller
	if len(a.o.Auth.Allow) > 0 && !slices.Contains(a.o.Auth.Allow, c.ID) {
		return nil, forbidden(ReasonNotAllowed, "AccessDenied",
			fmt.Sprintf("caller %q is authenticated but not allowed on this route", c.ID))
	}
	if k := a.o.Callers.byID[c.ID]; k != nil && k.limiter != nil {
		if err := k.limiter.take(r.Context(), a.o.Now()); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (a *Authenticator) identify(r *http.Request) (*Result, *Error) {
	auth := r.Header.Get("Authorization")
	switch {
	case isSigV2(r, auth):
		e := &Error{Status: http.StatusBadRequest, Code: "InvalidRequest", Reason: ReasonMalformed,
			Message: "the authorization mechanism you have provided is not supported: sign with AWS4-HMAC-SHA256 (SigV4; for the AWS CLI v1 and boto, s3 signature_version = s3v4)"}
		return nil, e
	case isSigV4(r, auth):
		if !a.o.Auth.Accepts(config.AuthSigV4) {
			return nil, a.challenge(ReasonMethod, "this route does not accept SigV4-signed requests")
		}
		return a.sigv4(r)
	case len(auth) > 7 && strings.EqualFold(auth[:7], "bearer "):
		if !a.o.Auth.Accepts(config.AuthJWT) {
			if a.apiHeader == "Authorization" {
				break
			}
			return nil, a.challenge(ReasonMethod, "this route does not accept bearer tokens")
		}
		return a.jwt(r.Context(), strings.TrimSpace(auth[7:]))
	}
	if a.apiHeader != "" {
		if vs := r.Header.Values(a.apiHeader); len(vs) > 0 {
			return a.apiKey(vs)
		}
	}
	if a.o.Auth.Accepts(config.AuthMTLS) && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		cert := r.TLS.VerifiedChains[0][0]
		if k := a.o.Callers.byCertificate(cert); k != nil {
			return &Result{Caller: a.caller(k, MethodMTLS)}, nil
		}
		return nil, forbidden(ReasonCertificate, "AccessDenied", "the client certificate is valid but names no caller of this gateway")
	}
	return nil, a.challenge(ReasonMissing, a.missingMessage())
}

func (a *Authenticator) missingMessage() string {
	var ways []string
	for _, m := range a.o.Auth.Methods {
		switch m {
		case config.AuthAPIKey:
			ways = append(ways, "an API key in the "+a.apiName+" header")
		case config.AuthSigV4:
			ways = append(ways, "a SigV4 signature made with a signway-issued key pair")
		case config.AuthJWT:
			ways = append(ways, "a bearer token (Authorization: Bearer JWT)")
		case config.AuthMTLS:
			ways = append(ways, "a client certificate")
		}
	}
	return "no credentials were given: this route needs " + strings.Join(ways, ", or ")
}

func (a *Authenticator) challenge(reason Reason, msg string) *Error {
	e := unauthorized(reason, "Unauthorized", msg)
	e.Challenges = a.challenges
	return e
}

func (a *Authenticator) caller(k *known, m Method) *Caller {
	return &Caller{ID: k.id, Method: m, Credentials: k.creds, Declared: true}
}

func (a *Authenticator) apiKey(vs []string) (*Result, *Error) {
	if len(vs) != 1 || vs[0] == "" {
		return nil, a.challenge(ReasonMalformed, "send exactly one API key in the "+a.apiName+" header")
	}
	k := a.o.Callers.byAPIKey(strings.TrimSpace(vs[0]))
	if k == nil {
		e := a.challenge(ReasonBadKey, "the API key in the "+a.apiName+" header is not valid")
		e.Code = "InvalidApiKey"
		return nil, e
	}
	return &Result{Caller: a.caller(k, MethodAPIKey)}, nil
}

// isSigV2 reports a request signed with AWS's retired Signature Version 2,
// which old clients still default to for presigned S3 URLs.
func isSigV2(r *http.Request, auth string) bool {
	if strings.HasPrefix(auth, "AWS ") {
		return true
	}
	q := r.URL.RawQuery
	return strings.Contains(q, "AWSAccessKeyId=") && strings.Contains(q, "Signature=") && !strings.Contains(q, "X-Amz-")
}

// isSigV4 reports signature material of either mode.
func isSigV4(r *http.Request, auth string) bool {
	if strings.HasPrefix(auth, "AWS4-") {
		return true
	}
	q := r.URL.RawQuery
	return strings.Contains(q, "X-Amz-Signature=") || strings.Contains(q, "X-Amz-Credential=")
}

// sigv4 verifies a request signed with a signway-issued key pair and
// answers failures as S3 does, so SDKs and the CLI report them normally.
func (a *Authenticator) sigv4(r *http.Request) (*Result, *Error) {
	v, err := sigv4.Verify(r, sigv4.VerifyOptions{Now: a.o.Now(), Lookup: a.o.Callers.lookupSigV4})
	if err != nil {
		var ve *sigv4.VerifyError
		if !errors.As(err, &ve) {
			return nil, forbidden(ReasonMalformed, "AccessDenied", "the signature could not be checked")
		}
		return nil, sigv4Error(ve)
	}
	k := a.o.Callers.sigv4[v.AccessKeyID].caller
	c := a.caller(k, MethodSigV4)
	c.AccessKeyID = v.AccessKeyID
	return &Result{Caller: c, Verified: v}, nil
}

func sigv4Error(ve *sigv4.VerifyError) *Error {
	e := &Error{Status: http.StatusForbidden, Code: ve.Kind.AWSCode(), Message: ve.Detail}
	switch ve.Kind {
	case sigv4.UnknownKey:
		e.Reason = ReasonUnknownKey
		e.Message = "the access key ID is not one this gateway issued (or it was revoked)"
	case sigv4.SignatureMismatch:
		e.Reason = ReasonSignature
		e.Message = "the request signature we calculated does not match the signature you provided: check your secret access key and signing method"
		e.CanonicalRequest, e.StringToSign = ve.CanonicalRequest, ve.StringToSign
	case sigv4.Expired:
		e.Reason = ReasonExpired
		e.Message = "request has expired: " + ve.Detail
	case sigv4.ClockSkew:
		e.Reason = ReasonSkew
	case sigv4.HeaderNotSigned:
		e.Reason = ReasonMalformed
	default:
		e.Status, e.Reason = http.StatusBadRequest, ReasonMalformed
	}
	return e
}

// Handler wraps next: a refused request is answered here and never reaches
// it; an admitted one carries its Caller in the context (CallerFrom), the
// API key header removed. admit, when set, sees each admitted request
// first (the gateway records the caller for the access log and hands a
// SigV4 caller's signature to the signing transport).
func (a *Authenticator) Handler(next http.Handler, admit func(*http.Request, *Result) *http.Request) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := a.Authenticate(r)
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		r = r.WithContext(WithCaller(r.Context(), res.Caller))
		if a.apiHeader != "" && a.apiHeader != "Authorization" {
			if _, ok := r.Header[a.apiHeader]; ok {
				r.Header = r.Header.Clone()
				delete(r.Header, a.apiHeader)
			}
		}
		if admit != nil {
			r = admit(r, res)
		}
		if a.o.Metrics == nil {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() { a.o.Metrics.CallerRequest(a.o.Route, a.callerLabel(res.Caller), sw.code()) }()
		next.ServeHTTP(sw, r)
	})
}

// callerLabel keeps the metrics label bounded: a declared caller or one
// the route's allow list names is itself; any other JWT subject is "other".
func (a *Authenticator) callerLabel(c *Caller) string {
	if c.Declared || slices.Contains(a.o.Auth.Allow, c.ID) {
		return c.ID
	}
	return "other"
}

// statusWriter records the status for the caller metric; Unwrap keeps
// Flush and the rest of http.ResponseController working through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 || w.status < 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	if a.o.Metrics != nil {
		a.o.Metrics.AuthFailure(a.o.Route, string(e.Reason))
	}
	a.o.Logger.Info("caller refused", "route", a.o.Route, "method", r.Method, "path", r.URL.Path,
		"status", e.Status, "code", e.Code, "reason", string(e.Reason), "access_key_id", e.AccessKeyID)
	// A SigV4 caller is an AWS SDK: it parses S3's XML error document.
	auth := r.Header.Get("Authorization")
	xmlBody := a.o.S3 || isSigV4(r, auth) || isSigV2(r, auth)
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		// Read nothing more: a throttled upload is not worth its bytes.
		w.Header().Set("Connection", "close")
	}
	e.Write(w, xmlBody)
}

// jwt is filled in by jwt.go.
func (a *Authenticator) jwt(ctx context.Context, token string) (*Result, *Error) {
	id, err := a.o.JWT.Verify(ctx, token)
	if err != nil {
		e := a.challenge(ReasonBadToken, "the bearer token is not valid: "+err.Error())
		e.Code = "InvalidToken"
		e.Challenges = []string{`Bearer realm="signway", error="invalid_token"`}
		return nil, e
	}
	c := &Caller{ID: id, Method: MethodJWT}
	if k := a.o.Callers.byID[id]; k != nil {
		c.Credentials, c.Declared = k.creds, true
	}
	return &Result{Caller: c}, nil
}
