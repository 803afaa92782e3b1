package credentials

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// SourceError is why a credential source failed, in words that are safe to
// show a caller, a readiness probe and a log.
//
// The SDK's own error texts are not: processcreds quotes the whole output of
// a credential_process (credentials included) when it is not pure JSON, a
// container endpoint's error message is whatever that endpoint printed, and
// a *url.Error carries a URL. So a SourceError is never built from an
// error's text. It is built from what the error is (its type, an AWS error
// code and HTTP status, a host name, an exit status, a JSON byte offset) and
// from fixed text; an AWS service's own message is kept only after
// scrubbing. It does not unwrap to the original error either, so no caller
// up the stack can reach the raw text through errors.As.
type SourceError struct {
	// Source is signway's name for the source ("credential_process of
	// profile ops", "assume role arn:...").
	Source string
	// Reason says what went wrong in general terms.
	Reason string
	// Code and Status are an AWS API's error code and HTTP status, when the
	// source answered with one.
	Code   string
	Status int
}

func (e *SourceError) Error() string {
	if e.Source == "" {
		return e.Reason
	}
	return e.Source + ": " + e.Reason
}

// sanitize turns err from a credential source into a *SourceError. Errors
// this package already made safe are kept as they are.
func sanitize(source string, err error) error {
	if err == nil {
		return nil
	}
	switch err.(type) {
	case *SourceError, *UnavailableError, *TokenError, *STSError:
		return err
	}
	d := describe(err)
	d.Source = source
	return d
}

// describe explains err without repeating its text. The order matters: the
// most specific explanation wins.
func describe(err error) *SourceError {
	// A base provider's failure inside an SDK error (AssumeRole's STS call
	// needs the base credentials first): that one is ours and already safe.
	var se *SourceError
	var ue *UnavailableError
	switch {
	case errors.As(err, &ue):
		return &SourceError{Reason: "its base credentials failed: " + ue.Error()}
	case errors.As(err, &se):
		return &SourceError{Reason: "its base credentials failed: " + se.Error(), Code: se.Code, Status: se.Status}
	case errors.Is(err, context.Canceled):
		return &SourceError{Reason: "canceled"}
	}

	var pe *processcreds.ProviderError
	if errors.As(err, &pe) {
		return &SourceError{Reason: describeProcess(pe)}
	}

	op := operation(err)
	var api smithy.APIError
	if errors.As(err, &api) {
		status := 0
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) {
			status = re.HTTPStatusCode()
		}
		code := safeCode(api.ErrorCode())
		reason := op + "answered " + code
		if status != 0 {
			reason += fmt.Sprintf(" (HTTP %d)", status)
		}
		// Only AWS's own messages are kept: a container credentials endpoint
		// or IMDS may answer anything.
		if msg := scrubMessage(api.ErrorMessage()); msg != "" && awsServices[operationService(err)] && code == api.ErrorCode() {
			reason += ": " + msg
		}
		if h := codeHints[code]; h != "" {
			reason += "; " + h
		}
		return &SourceError{Reason: reason, Code: code, Status: status}
	}

	var ite *ssocreds.InvalidTokenError
	if errors.As(err, &ite) {
		return &SourceError{Reason: "the SSO session has expired or is invalid; sign in again with `aws sso login`"}
	}
	var nf config.SharedConfigProfileNotExistError
	if errors.As(err, &nf) {
		return &SourceError{Reason: fmt.Sprintf("profile %q is not in the shared config or credentials file", nf.Profile)}
	}
	if r := describeNetwork(err, op); r != "" {
		return &SourceError{Reason: r}
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return &SourceError{Reason: fmt.Sprintf("%s%s %s: %s", op, pathErr.Op, pathErr.Path, errnoText(pathErr.Err))}
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return &SourceError{Reason: op + "its answer could not be parsed"}
	}
	return &SourceError{Reason: fmt.Sprintf("%sfailed (%s; the source's own error text is withheld because it may quote credentials)", op, innermostType(err))}
}

// awsServices are the SDK service IDs whose error messages AWS writes.
var awsServices = map[string]bool{"STS": true, "SSO": true, "SSO OIDC": true, "Signin": true}

func operationService(err error) string {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return oe.ServiceID
	}
	return ""
}

// operation is "STS AssumeRole: " for an SDK operation's error, else "".
func operation(err error) string {
	var oe *smithy.OperationError
	if errors.As(err, &oe) && oe.ServiceID != "" {
		return oe.ServiceID + " " + oe.OperationName + ": "
	}
	return ""
}

// processMessages are processcreds' fixed error texts: safe to repeat.
var processMessages = map[string]string{
	"wrong version in process output (not 1)":              `the credential_process's JSON has a Version other than 1`,
	"missing AccessKeyId in process output":                "the credential_process's JSON has no AccessKeyId",
	"missing SecretAccessKey in process output":            "the credential_process's JSON has no SecretAccessKey",
	"failed to prepare command: command must not be empty": "the credential_process command is empty",
}

func describeProcess(pe *processcreds.ProviderError) string {
	const fix = "; it must print only the credentials JSON on stdout (notices belong on stderr)"
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var exit *exec.ExitError
	var execErr *exec.Error
	switch inner := pe.Err; {
	case inner == nil:
		return "the credential_process failed"
	case processMessages[inner.Error()] != "":
		return processMessages[inner.Error()]
	case errors.As(inner, &syn):
		return fmt.Sprintf("the credential_process printed something that is not its credentials JSON (invalid JSON at byte %d; the output is not shown because it may hold credentials)%s", syn.Offset, fix)
	case errors.As(inner, &typ):
		return fmt.Sprintf("the credential_process's JSON has the wrong type for %s", safeCode(typ.Field))
	case strings.HasPrefix(inner.Error(), "credential process timed out"):
		return "the credential_process did not finish in time"
	case errors.As(inner, &exit):
		return fmt.Sprintf("the credential_process exited with status %d (what it printed is not shown)", exit.ExitCode())
	case errors.As(inner, &execErr):
		return "the credential_process could not be started: " + errnoText(execErr.Err)
	}
	return fmt.Sprintf("the credential_process failed (%s)", innermostType(pe))
}

// describeNetwork explains an error reaching the source, naming the host
// (never the rest of a URL, which may carry a query with a secret).
func describeNetwork(err error, op string) string {
	host := ""
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			host = " " + u.Host
		}
	}
	var dns *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timeout) && timeout.Timeout():
		return op + "no answer in time from" + orSource(host)
	case errors.As(err, &dns):
		return fmt.Sprintf("%scannot resolve %q", op, dns.Name)
	case errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr):
		return op + "the TLS certificate of" + orSource(host) + " was not accepted"
	case errors.Is(err, syscall.ECONNREFUSED):
		return op + "cannot connect to" + orSource(host) + ": connection refused"
	case errors.As(err, &opErr):
		return fmt.Sprintf("%scannot reach%s: %s %s", op, orSource(host), opErr.Op, errnoText(opErr.Err))
	case ue != nil:
		return op + "the exchange with" + orSource(host) + " failed (" + innermostType(ue.Err) + ")"
	}
	return ""
}

func orSource(host string) string {
	if host == "" {
		return " the source"
	}
	return host
}

// errnoText is the text of a system error number, which holds nothing but
// the error's name; anything else is named by its type.
func errnoText(err error) string {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, exec.ErrNotFound):
		return "executable file not found"
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return innermostType(err)
}

// innermostType names the deepest error that is not a mere wrapper, to say
// something useful about an error whose text cannot be shown.
func innermostType(err error) string {
	name := fmt.Sprintf("%T", err)
	for err != nil {
		t := fmt.Sprintf("%T", err)
		if t != "*fmt.wrapError" && t != "*fmt.wrapErrors" && t != "*errors.joinError" {
			name = t
		}
		err = errors.Unwrap(err)
	}
	return name
}

// codeRe is what an AWS error code looks like. A code that does not (a
// container endpoint may answer anything) is not repeated.
// At most 64 characters, checked apart (see roleNameRe).
var codeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.:-]*$`)

func safeCode(code string) string {
	if len(code) <= 64 && codeRe.MatchString(code) {
		return code
	}
	return "an unrecognised error code"
}

// codeHints say what to check for the AWS error codes a credential source
// meets most.
var codeHints = map[string]string{
	"AccessDenied":            "check the role's trust policy and that the base credentials may call sts:AssumeRole on it",
	"InvalidClientTokenId":    "the access key ID is not known to AWS (deleted, or from another partition)",
	"SignatureDoesNotMatch":   "the secret access key does not belong to the access key ID",
	"ExpiredToken":            "the session token has expired; refresh the base credentials",
	"ExpiredTokenException":   "the token has expired",
	"InvalidIdentityToken":    "STS did not accept the web identity token (issuer, audience or signature)",
	"IDPCommunicationError":   "STS could not reach the identity provider to check the token",
	"RegionDisabledException": "STS is not activated in this region; activate it or use another sts_region",
	"UnauthorizedException":   "the SSO access token is not valid; sign in again with `aws sso login`",
	"MalformedPolicyDocument": "a session policy is malformed",
	"PackedPolicyTooLarge":    "the session tags or policies are too large",
	"InvalidParameterValue":   "a parameter of the call (duration, session name, external ID) is not valid",
	"ValidationError":         "a parameter of the call (duration, session name, external ID) is not valid",
	"ThrottlingException":     "STS is throttling: too many calls",
	"Throttling":              "STS is throttling: too many calls",
}

// secretLike is a run of characters as long as a secret access key, a
// session token, a signature or a JWT segment. ARNs, account IDs, access key
// IDs and error codes are shorter or broken up by ':' and '/'.
var secretLike = regexp.MustCompile(`[A-Za-z0-9+=_\-]{32,}`)

const maxMessage = 300

// scrubMessage keeps an AWS service's error message (it often says what is
// wrong, such as which principal may not assume which role) minus anything
// that could be a secret, and not too long; secrets lists strings known to
// be secret in this context (a caller's token), removed wherever they
// appear.
func scrubMessage(msg string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "<redacted>")
		}
	}
	msg = secretLike.ReplaceAllString(msg, "<redacted>")
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > maxMessage {
		msg = strings.TrimSpace(strings.ToValidUTF8(msg[:maxMessage], "")) + "…"
	}
	return msg
}
