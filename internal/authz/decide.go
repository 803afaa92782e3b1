package authz

import (
	"net/http"
)

// Decider decides for one request described by a check. r carries the
// original method, URL (host, path and query as the gateway will send
// them) and headers; r.Body is the original body when the gateway
// forwarded it whole, and nil otherwise (then the payload is signed as
// UNSIGNED-PAYLOAD). Decide must not keep r.
type Decider interface {
	Decide(r *http.Request) Decision
}

// Decision is the answer to a check.
type Decision struct {
	// Status is 200 when the request may go on; otherwise the status the
	// gateway answers the caller with (401, 403, 429, 400, 503...).
	Status int
	// Header, when allowed, holds the headers the gateway must set on the
	// request it sends (Authorization, X-Amz-Date, X-Amz-Content-Sha256,
	// X-Amz-Security-Token, Host); when denied, the headers of the answer
	// to the caller (WWW-Authenticate, Retry-After, Content-Type).
	Header http.Header
	// Body is the denied answer's body.
	Body []byte
}

// Allowed reports whether the request may go on.
func (d Decision) Allowed() bool { return d.Status == http.StatusOK }
