package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/sigv4"
)

// Capture is a request signed but not sent. Signing as a service (authz)
// and the presign endpoint run a request through a route exactly as the
// proxy would (caller authentication, rewrites, credentials, signing) and
// take the signed request instead of an upstream's answer; the handler
// answers 204 for it.
//
// The body is what a gateway forwarded with its check, if anything: a body
// is hashed; without one the payload is UNSIGNED-PAYLOAD, since the
// gateway sends a body signway never sees.
type Capture struct {
	// Presign, when positive, signs in the query (a presigned URL) for this
	// long, or less: never past the credentials' own expiry.
	Presign time.Duration
	// Route, when set, is the only route that may sign: the presign
	// endpoint names one, and a request the router sends elsewhere is
	// refused rather than presigned for another upstream.
	Route string

	signed  *http.Request
	expires time.Time
}

type captureKey struct{}

// WithCapture returns ctx under which the signing transport fills c
// instead of sending.
func WithCapture(ctx context.Context, c *Capture) context.Context {
	return context.WithValue(ctx, captureKey{}, c)
}

func captureOf(ctx context.Context) *Capture {
	c, _ := ctx.Value(captureKey{}).(*Capture)
	return c
}

// Signed is the signed request, or nil when the route did not sign (the
// caller was refused, the request was malformed: the handler's answer says why).
func (c *Capture) Signed() *http.Request { return c.signed }

// Expires is when a presigned URL stops working.
func (c *Capture) Expires() time.Time { return c.expires }

// captureFacts adjusts what the payload plan decides from: a forwarded
// body is hashed, since the gateway sends it as it is (no aws-chunked, no
// spooling on its side); a presign is a presign whatever the route says.
func (c *Capture) captureFacts(f payloadFacts) payloadFacts {
	if f.length != 0 {
		f.mode = config.PayloadSigned
	} else {
		f.claimed = false // the gateway's body, never seen here, cannot be held to its hash
	}
	if c.Presign > 0 {
		f.presign = true
	}
	return f
}

// ErrCredentialsExpiring refuses a presign when the credentials have less
// than a second left.
var ErrCredentialsExpiring = errors.New("the signing credentials expire in less than a second: try again after they are refreshed")

// lifetime is how long a presigned URL may live: what was asked, cut to
// the credentials' remaining life.
func (c *Capture) lifetime(creds sigv4.Credentials, now time.Time) (time.Duration, error) {
	l := c.Presign
	if !creds.Expires.IsZero() {
		if left := creds.Expires.Sub(now).Truncate(time.Second); left < l {
			l = left
		}
	}
	if l < time.Second {
		return 0, &PayloadError{Code: "CredentialsExpiring", Msg: ErrCredentialsExpiring.Error(), Err: ErrCredentialsExpiring}
	}
	c.expires = now.Add(l)
	return l, nil
}

// keep records out and answers for it without an upstream.
func (c *Capture) keep(out *http.Request) *http.Response {
	c.signed = out
	return &http.Response{StatusCode: http.StatusNoContent, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: out}
}

func (c *Capture) String() string { return fmt.Sprintf("capture(presign %s)", c.Presign) }
