package inbound

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"
)

// Reason labels an authentication failure in metrics and logs; the set is
// fixed, so the label stays bounded.
type Reason string

// Failure reasons.
const (
	ReasonMissing       Reason = "missing"        // no credentials were given
	ReasonMethod        Reason = "method"         // credentials of a kind the route does not accept
	ReasonBadKey        Reason = "bad_key"        // an API key no caller has
	ReasonUnknownKey    Reason = "unknown_key"    // a SigV4 access key ID no caller has
	ReasonSignature     Reason = "signature"      // a SigV4 signature that does not match
	ReasonExpired       Reason = "expired"        // a presigned URL or a token past its time
	ReasonSkew          Reason = "clock_skew"     // a SigV4 date too far from signway's clock
	ReasonMalformed     Reason = "malformed"      // credentials that cannot be read
	ReasonBadToken      Reason = "bad_token"      // a JWT that does not verify
	ReasonCertificate   Reason = "certificate"    // a client certificate no caller has
	ReasonNotAllowed    Reason = "not_allowed"    // a known caller not in the route's allow list
	ReasonRateLimited   Reason = "rate_limited"   // past the caller's rate limit
	ReasonLimiterFailed Reason = "limiter_failed" // the shared rate-limit store failed, closed
)

// Error is a refused request: what the caller is told. Message says what
// was wrong and what to do; it names no key, secret or other caller.
type Error struct {
	Status  int    // 401, 403, 429 or 503
	Code    string // S3-style code, e.g. SignatureDoesNotMatch
	Message string
	Reason  Reason
	// Challenges are the WWW-Authenticate values of a 401.
	Challenges []string
	// RetryAfter is how long a rate-limited caller should wait.
	RetryAfter time.Duration
	// Details are the verifier's canonical request and string to sign of a
	// SigV4 mismatch, as S3 returns them, so a client can compare.
	CanonicalRequest, StringToSign string
	// AccessKeyID is the key a SigV4 caller signed with (not secret).
	AccessKeyID string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Write answers the refused request. xmlBody selects S3's XML error
// document (S3 routes, SigV4 callers); otherwise JSON.
func (e *Error) Write(w http.ResponseWriter, xmlBody bool) {
	h := w.Header()
	for _, c := range e.Challenges {
		h.Add("WWW-Authenticate", c)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	h.Set("X-Signway-Error", e.Code)
	h.Set("Cache-Control", "no-store")
	if xmlBody {
		h.Set("Content-Type", "application/xml")
		w.WriteHeader(e.Status)
		body, _ := xml.Marshal(struct {
			XMLName          xml.Name `xml:"Error"`
			Code             string   `xml:"Code"`
			Message          string   `xml:"Message"`
			AWSAccessKeyID   string   `xml:"AWSAccessKeyId,omitempty"`
			StringToSign     string   `xml:"StringToSign,omitempty"`
			CanonicalRequest string   `xml:"CanonicalRequest,omitempty"`
		}{Code: e.Code, Message: "signway: " + e.Message, AWSAccessKeyID: e.AccessKeyID,
			StringToSign: e.StringToSign, CanonicalRequest: e.CanonicalRequest})
		w.Write(append([]byte(xml.Header), body...))
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]string{"code": e.Code, "message": "signway: " + e.Message})
}

func unauthorized(reason Reason, code, msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Message: msg, Reason: reason}
}

func forbidden(reason Reason, code, msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: code, Message: msg, Reason: reason}
}
