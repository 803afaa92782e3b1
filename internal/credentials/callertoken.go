package credentials

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"
)

type callerTokenKey struct{}

// WithCallerToken returns a context carrying the caller's web identity token,
// for the per-caller credentials of the route to pick up (see
// CallerWebIdentity.Provider). The proxy sets it after taking the token out of
// the request, so that the token itself never reaches the upstream.
func WithCallerToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, callerTokenKey{}, token)
}

// CallerToken returns the token WithCallerToken put in ctx; false when there
// is none or it is empty.
func CallerToken(ctx context.Context) (string, bool) {
	t, _ := ctx.Value(callerTokenKey{}).(string)
	return t, t != ""
}

// BearerToken extracts a token from a header value. "Bearer TOKEN" (the scheme
// in any case, as RFC 9110 says) gives TOKEN; a value with no scheme at all
// gives itself, for routes that take the token from a custom header such as
// X-Id-Token. Any other scheme ("Basic ...", "AWS4-HMAC-SHA256 ...") or an
// empty token gives false.
func BearerToken(headerValue string) (string, bool) {
	v := strings.TrimSpace(headerValue)
	if strings.EqualFold(v, "Bearer") {
		return "", false // the scheme with its token missing
	}
	scheme, rest, found := strings.Cut(v, " ")
	if !found {
		return v, v != ""
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok := strings.TrimSpace(rest)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// TokenError means the caller's token cannot be exchanged: missing, not a
// JWT, or expired. STS was not called; the proxy answers 401.
type TokenError struct {
	Reason  string // safe to show the caller; never contains the token
	Expired bool
}

func (e *TokenError) Error() string { return "caller web identity token: " + e.Reason }

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

// errNoCallerToken is what CallerWebIdentity.Provider returns when the proxy
// put no token in the context.
var errNoCallerToken = &TokenError{Reason: "no bearer token in the request"}

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
