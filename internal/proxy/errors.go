package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/signway/signway/internal/sigv4"
)

// StatusClientClosedRequest is nginx's code for a caller that went away before
// the response; it only ever reaches logs and metrics.
const StatusClientClosedRequest = 499

// CredentialsError means no valid credentials could be had for a route.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string { return "obtaining AWS credentials: " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

// CallerAuthError is a CredentialsFunc's refusal of the caller itself (a
// missing or rejected token): it is answered with its own status and
// message instead of 503.
type CallerAuthError struct {
	Status  int    // 401 or 403, or STS's own status when passed through
	Code    string // e.g. "MissingToken", or STS's error code
	Message string
}

func (e *CallerAuthError) Error() string { return e.Code + ": " + e.Message }

// failure is what the caller is told: a status, a stable code and a message
// that says what to fix. It never carries a secret: transport errors lose
// their URL (a presigned URL holds a signature and a token).
type failure struct {
	status int
	code   string
	msg    string
	kind   string // for metrics: timeout|connect|canceled|other|signing|credentials|body
}

func classify(r *http.Request, err error, target string) failure {
	var tooLarge *BodyTooLargeError
	var bodyErr *BodyReadError
	var malformed *sigv4.MalformedError
	var credErr *CredentialsError
	var callerErr *CallerAuthError
	var payloadE *PayloadError
	var idle *BodyIdleError
	var stalled *UpstreamStalledError
	var late *ResponseTimeoutError
	var ue *url.Error
	// A credentials error may wrap the *url.Error of a call to STS: it is
	// still a credentials error, and STS is not the upstream.
	if errors.As(err, &ue) && !errors.As(err, &credErr) && !errors.As(err, &callerErr) {
		err = ue.Err // drop the URL
	}
	switch {
	case errors.As(err, &idle): // the server cancels the request too: this is why
		return failure{http.StatusRequestTimeout, "RequestTimeout",
			idle.Error() + "; nothing was stored: send the body without pauses, or raise the timeout", "body"}
	case r.Context().Err() != nil && errors.Is(r.Context().Err(), context.Canceled):
		return failure{StatusClientClosedRequest, "ClientClosedRequest", "the caller closed the connection before the response", "canceled"}
	case errors.As(err, &late):
		return failure{http.StatusGatewayTimeout, "UpstreamTimeout",
			fmt.Sprintf("the upstream %s sent no response headers within %s of receiving the whole request (timeouts.response); check its health or raise the route's response timeout", target, late.After), "timeout"}
	case errors.As(err, &stalled):
		return failure{http.StatusGatewayTimeout, "UpstreamTimeout",
			fmt.Sprintf("the upstream %s read nothing of the request body for %s (timeouts.body_idle); check its health or raise the timeout", target, stalled.Idle), "timeout"}
	case errors.As(err, &tooLarge):
		return failure{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			tooLarge.Error() + "; raise the route's max body size or use an unsigned payload", "body"}
	case errors.As(err, &payloadE):
		return failure{http.StatusBadRequest, payloadE.Code, payloadE.Msg, "body"}
	case errors.As(err, &bodyErr):
		return failure{http.StatusBadRequest, "IncompleteBody", bodyErr.Error(), "body"}
	case errors.As(err, &malformed):
		return failure{http.StatusBadRequest, "MalformedRequest", "cannot sign the request: " + malformed.Error(), "signing"}
	case errors.As(err, &callerErr):
		return failure{callerErr.Status, callerErr.Code, callerErr.Message, "credentials"}
	case errors.As(err, &credErr):
		return failure{http.StatusServiceUnavailable, "CredentialsUnavailable", credErr.Error() +
			"; `signway credentials check` shows what each source answers (docs/credentials.md lists the sources)", "credentials"}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return failure{http.StatusGatewayTimeout, "UpstreamTimeout",
			fmt.Sprintf("the upstream %s did not answer in time (%v); check its health or raise the route's connect or response timeout", target, err), "timeout"}
	}
	var tlsErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &tlsErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) {
		return failure{http.StatusBadGateway, "UpstreamTLSError",
			fmt.Sprintf("the upstream %s's TLS certificate was not accepted (%v); trust the CA that issued it with the route's upstream CA file", target, err), "connect"}
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr) || errors.As(err, &opErr) && opErr.Op == "dial" {
		return failure{http.StatusBadGateway, "UpstreamUnreachable",
			fmt.Sprintf("cannot connect to the upstream %s: %v", target, err), "connect"}
	}
	return failure{http.StatusBadGateway, "UpstreamError",
		fmt.Sprintf("the exchange with the upstream %s failed: %v", target, err), "other"}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// writeFailure answers in the dialect the caller's SDK parses: S3's XML error
// document for S3 routes, JSON elsewhere.
func writeFailure(w http.ResponseWriter, f failure, s3 bool) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("X-Signway-Error", f.code)
	h.Set("Cache-Control", "no-store")
	if s3 {
		h.Set("Content-Type", "application/xml")
		w.WriteHeader(f.status)
		body, _ := xml.Marshal(struct {
			XMLName xml.Name `xml:"Error"`
			Code    string   `xml:"Code"`
			Message string   `xml:"Message"`
		}{Code: f.code, Message: "signway: " + f.msg})
		w.Write(append([]byte(xml.Header), body...))
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	json.NewEncoder(w).Encode(map[string]string{"code": f.code, "message": "signway: " + f.msg})
}
