package proxy

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// Retries: an idempotent request whose body can be sent again, that failed
// before any byte of a response (a refused or reset connection, an HTTP/2
// GOAWAY) or that S3 answered SlowDown, InternalError or
// ServiceUnavailable, is sent again, re-signed with a fresh date, after a
// backoff with jitter and within the request's deadline. Nothing has
// reached the caller at that point: the signing transport returns before
// ReverseProxy writes anything.

// retryBase and retryCap bound the backoff before attempt n+1: half of
// min(cap, base*2^(n-1)) plus a random part up to the other half.
const (
	retryBase = 100 * time.Millisecond
	retryCap  = 2 * time.Second
	// s3ErrorPeek bounds how much of a 500/503 body is read to find S3's
	// error code; the caller still gets all of it.
	s3ErrorPeek = 4 << 10
)

func retryBackoff(retry int) time.Duration {
	d := retryCap
	if retry < 6 {
		d = min(retryCap, retryBase<<(retry-1))
	}
	return d/2 + rand.N(d/2+1)
}

// replayable reports whether out can be sent again as it was: an idempotent
// method, and no body or one that was spooled (streamed bodies are read once).
func replayable(out *http.Request, plan payloadPlan) bool {
	switch out.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	return plan.body == bodyNone || plan.body == bodySpool && out.GetBody != nil
}

// retryReason says why a result is worth another attempt, or "" when it
// is not. A 500/503 from S3 is read far enough to find its code, and
// handed on intact when it is not retried.
func (t *signingTransport) retryReason(ctx context.Context, resp *http.Response, err error) string {
	if err != nil {
		var dns *net.DNSError
		var pe *PayloadError
		switch {
		case ctx.Err() != nil, errors.As(err, &pe):
			return ""
		case isTimeout(err):
			// The upstream had the request; its answer is late, not lost.
			// Any Timeout() error, not only a net.Error: the route's
			// response timeout is not one.
			return ""
		case errors.As(err, &dns) && dns.IsNotFound:
			return ""
		}
		return "connection failed before a response"
	}
	if !t.route.s3 || (resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusInternalServerError) {
		return ""
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, s3ErrorPeek))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	var e struct{ Code string }
	_ = xml.Unmarshal(head, &e)
	switch e.Code {
	case "SlowDown", "InternalError", "ServiceUnavailable":
		return "S3 answered " + e.Code
	}
	return ""
}

// retry sends out again while the last result is worth it and attempts
// remain. sign re-signs a fresh copy; rawQuery is out's query before
// signing (presigning adds to it).
func (t *signingTransport) retry(out *http.Request, rawQuery string, resp *http.Response, err error, sign func(*http.Request, time.Time) error) (*http.Response, error) {
	ctx := out.Context()
	for attempt := 2; attempt <= t.route.MaxAttempts; attempt++ {
		reason := t.retryReason(ctx, resp, err)
		if reason == "" {
			break
		}
		wait := t.backoff(attempt - 1)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			break // the answer we have beats one that cannot come in time
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			if resp != nil {
				resp.Body.Close()
			}
			return nil, ctx.Err()
		case <-timer.C:
		}
		if resp != nil {
			resp.Body.Close()
		}
		next, berr := resignable(out, rawQuery)
		if berr != nil {
			return nil, berr
		}
		if serr := sign(next, t.now()); serr != nil {
			return nil, serr
		}
		t.log.Debug("retrying upstream request", "route", t.route.Name, "method", out.Method, "attempt", attempt, "reason", reason, "after", wait)
		resp, err = t.send(next)
	}
	return resp, err
}

// resignable is out as it was before signing: its own header map without
// the signature, the query before presigning, and a fresh body.
func resignable(out *http.Request, rawQuery string) (*http.Request, error) {
	next := new(http.Request)
	*next = *out
	u := *out.URL
	u.RawQuery = rawQuery
	next.URL = &u
	next.Header = out.Header.Clone()
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256", "X-Amz-Region-Set"} {
		delete(next.Header, k)
	}
	if out.GetBody != nil {
		b, err := out.GetBody()
		if err != nil {
			return nil, err
		}
		next.Body = b
	}
	return next, nil
}
