package sigv4

import (
	"errors"
	"fmt"
	"strconv"
)

// VerifyKind classifies a verification failure.
type VerifyKind uint8

const (
	// Malformed: the signature material cannot be read (missing or
	// duplicated parts, bad dates, bad escapes, unsupported algorithm).
	Malformed VerifyKind = iota + 1
	// UnknownKey: Lookup does not know the access key ID, or the session
	// token does not belong to it.
	UnknownKey
	// SignatureMismatch: the signature is not the one for this request.
	SignatureMismatch
	// Expired: a presigned request past X-Amz-Date + X-Amz-Expires.
	Expired
	// ClockSkew: the signing time is too far from the verifier's clock.
	ClockSkew
	// HeaderNotSigned: a required header is not in SignedHeaders.
	HeaderNotSigned
	// BodyHashMismatch: the body does not hash to what the request claims.
	BodyHashMismatch
	// ScopeMismatch: the credential scope is for another service or region.
	ScopeMismatch
)

var kindNames = [...]string{
	Malformed: "malformed", UnknownKey: "unknown key", SignatureMismatch: "signature mismatch",
	Expired: "expired", ClockSkew: "clock skew", HeaderNotSigned: "header not signed",
	BodyHashMismatch: "body hash mismatch", ScopeMismatch: "scope mismatch",
}

func (k VerifyKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "VerifyKind(" + strconv.Itoa(int(k)) + ")"
}

// AWSCode is the error code AWS answers with for this kind, so an inbound
// verifier can reply in the form SDKs understand.
func (k VerifyKind) AWSCode() string {
	switch k {
	case UnknownKey:
		return "InvalidAccessKeyId"
	case SignatureMismatch:
		return "SignatureDoesNotMatch"
	case Expired, HeaderNotSigned:
		return "AccessDenied"
	case ClockSkew:
		return "RequestTimeTooSkewed"
	case BodyHashMismatch:
		return "XAmzContentSHA256Mismatch"
	case ScopeMismatch:
		return "AuthorizationHeaderMalformed"
	}
	return "AuthorizationHeaderMalformed"
}

// Sentinel errors, one per kind: errors.Is(err, ErrSignatureMismatch) holds
// for every *VerifyError of that kind.
var (
	ErrMalformed         = errors.New("sigv4: malformed signature")
	ErrUnknownKey        = errors.New("sigv4: unknown access key")
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")
	ErrExpired           = errors.New("sigv4: presigned request expired")
	ErrClockSkew         = errors.New("sigv4: request time too skewed")
	ErrHeaderNotSigned   = errors.New("sigv4: required header not signed")
	ErrBodyHashMismatch  = errors.New("sigv4: body hash mismatch")
	ErrScopeMismatch     = errors.New("sigv4: credential scope mismatch")
)

func (k VerifyKind) sentinel() error {
	switch k {
	case Malformed:
		return ErrMalformed
	case UnknownKey:
		return ErrUnknownKey
	case SignatureMismatch:
		return ErrSignatureMismatch
	case Expired:
		return ErrExpired
	case ClockSkew:
		return ErrClockSkew
	case HeaderNotSigned:
		return ErrHeaderNotSigned
	case BodyHashMismatch:
		return ErrBodyHashMismatch
	case ScopeMismatch:
		return ErrScopeMismatch
	}
	return nil
}

// VerifyError is every failure of Verify and of NewHashCheckingReader. Its
// message says what differs and what to fix; it never contains the secret or
// the expected signature, so it can be returned to the caller.
type VerifyError struct {
	Kind   VerifyKind
	Detail string
	// CanonicalRequest and StringToSign are the verifier's, set for signature
	// mismatches: a client compares them with its own to see what differs.
	CanonicalRequest, StringToSign string
	err                            error // the underlying cause, if any
}

func (e *VerifyError) Error() string { return "sigv4 verify: " + e.Kind.String() + ": " + e.Detail }

// Is makes errors.Is(err, ErrX) match the sentinel of the error's kind.
func (e *VerifyError) Is(target error) bool { return target != nil && target == e.Kind.sentinel() }

// Unwrap returns the cause: the Lookup error or a *MalformedError.
func (e *VerifyError) Unwrap() error { return e.err }

func verr(kind VerifyKind, format string, args ...any) *VerifyError {
	return &VerifyError{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// sigParts is the signature material of a request, from either mode.
