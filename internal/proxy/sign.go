package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/signway/signway/internal/reqinfo"
	"github.com/signway/signway/internal/sigv4"
)

// signingTransport signs each request on a clone, at send time, with
// credentials fetched from the route's cache, then hands it to the upstream
// transport. Signing at send time keeps X-Amz-Date fresh however long the
// request waited, and a clone keeps the RoundTripper contract.
type signingTransport struct {
	route   *Route
	base    http.RoundTripper
	signer  *sigv4.Signer
	now     func() time.Time
	conns   *UpstreamConns
	metrics Metrics
	log     *slog.Logger
	// backoff is the wait before retry n (1, 2, ...); retryBackoff unless a
	// test needs none.
	backoff func(retry int) time.Duration
}

func (t *signingTransport) RoundTrip(in *http.Request) (*http.Response, error) {
	rt := t.route
	cctx, credSpan := reqinfo.Begin(in.Context(), reqinfo.Credentials, nil)
	creds, err := rt.Credentials(cctx)
	credSpan.End(0, err)
	if err != nil {
		closeBody(in)
		return nil, &CredentialsError{Err: err}
	}
	out := cloneForSigning(in)
	cp, err := takeCallerPayload(out)
	if err != nil {
		closeBody(in)
		return nil, err
	}
	facts := rt.payloadFacts(out, &cp)
	capt := captureOf(in.Context())
	if capt != nil {
		if capt.Route != "" && capt.Route != rt.Name {
			closeBody(in)
			return nil, &PayloadError{Code: "WrongRoute", Msg: fmt.Sprintf("this path is served by route %q, not %q: give a path that route %q serves", rt.Name, capt.Route, capt.Route)}
		}
		facts = capt.captureFacts(facts)
	}
	plan := planPayload(facts)
	p := rt.params
	if rt.Debug {
		p.Debug = t.debugLog(in)
	}
	var sp *spool
	if plan.body == bodySpool {
		if out.ContentLength > rt.MaxBodyBytes {
			// Known to be too large: refused before a byte of it is read.
			closeBody(in)
			return nil, &BodyTooLargeError{Limit: rt.MaxBodyBytes}
		}
		sp, err = newSpool(out.Body, rt.SpoolMemoryBytes, rt.MaxBodyBytes, rt.SpoolDir, rt.spoolBudget)
		closeBody(in)
		if err != nil {
			return nil, payloadErr(err)
		}
		defer sp.release() // readers hold their own references
	}
	if err := plan.apply(out, &p, &cp, sp); err != nil {
		closeBody(out)
		return nil, err
	}
	rawQuery := out.URL.RawQuery // before presigning adds to it
	lifetime := rt.Lifetime
	if capt != nil {
		if plan.body == bodyNone && !plan.presign {
			p.PayloadHash = sigv4.UnsignedPayload // the gateway sends a body signway never sees
		}
		if capt.Presign > 0 {
			if lifetime, err = capt.lifetime(creds, t.now()); err != nil {
				return nil, err
			}
		}
	}
	_, signSpan := reqinfo.Begin(in.Context(), reqinfo.Signing, nil)
	if plan.body == bodySignedChunks {
		o := sigv4.StreamingOptions{DecodedLength: out.ContentLength}
		if plan.trailer == trailerFramed {
			c := cp // the method value keeps a copy: cp itself stays on the stack
			o.Trailer, o.TrailerValue = c.trailer, c.trailerValue
		}
		var cs *sigv4.ChunkSigner
		if cs, err = t.signer.SignStreaming(out, creds, &p, o, t.now()); err == nil {
			out.Body = cs.Body(out.Body)
		}
	} else {
		err = t.sign(out, creds, &p, plan.presign, lifetime, t.now())
	}
	signSpan.End(0, err)
	if err != nil {
		closeBody(out)
		return nil, err
	}
	if capt != nil {
		return capt.keep(out), nil
	}
	var guard *bodyGuard
	if plan.body != bodySpool && plan.body != bodyNone {
		out, guard = guardBody(out) // streamed: it can still fail, and must then not complete
	}
	resp, err := t.send(out)
	if err == nil {
		guard.answered()
	}
	if rt.MaxAttempts > 1 && replayable(out, plan) {
		return t.retry(out, rawQuery, resp, err, func(next *http.Request, now time.Time) error {
			return t.sign(next, creds, &p, plan.presign, lifetime, now)
		})
	}
	return resp, err
}

// sign signs out in its header or, presigning, in its query for lifetime.
func (t *signingTransport) sign(out *http.Request, creds sigv4.Credentials, p *sigv4.Params, presign bool, lifetime time.Duration, now time.Time) error {
	if presign {
		return t.signer.Presign(out, creds, p, now, lifetime)
	}
	return t.signer.Sign(out, creds, p, now)
}

// send hands the signed request to the upstream transport, timing the wait
// for its response headers. The trace context goes on here, after signing,
// and is never signed (see sigv4's never-signed headers).
func (t *signingTransport) send(out *http.Request) (*http.Response, error) {
	ctx, span := reqinfo.Begin(out.Context(), reqinfo.Upstream, out.Header)
	if ctx != out.Context() {
		out = out.WithContext(ctx)
	}
	if i := span.Info(); i != nil && !i.Received.IsZero() {
		// Everything since the proxy took the request is signing's. A retry
		// comes through here again: its wait is not.
		t.metrics.ObserveSigning(t.route.Name, time.Since(i.Received))
		i.Received = time.Time{}
	}
	resp, err := t.base.RoundTrip(out)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	d := span.End(status, err)
	if err != nil {
		return nil, payloadErr(err)
	}
	t.metrics.ObserveUpstream(t.route.Name, resp.StatusCode, d)
	t.conns.track(resp)
	return resp, nil
}

// debugLog logs each signing of a route with debug: true: what the
// upstream will recompute, secrets redacted by sigv4.
func (t *signingTransport) debugLog(in *http.Request) func(sigv4.Debug) {
	ctx := in.Context()
	id := ""
	if i := reqinfo.From(ctx); i != nil {
		id = i.ID
	}
	return func(d sigv4.Debug) {
		t.log.LogAttrs(ctx, slog.LevelInfo, "signing debug", slog.String("route", t.route.Name), slog.String("request_id", id),
			slog.String("algorithm", d.Algorithm), slog.String("canonical_request", d.CanonicalRequest),
			slog.String("string_to_sign", d.StringToSign), slog.String("signed_headers", strings.Join(d.SignedHeaders, ";")))
	}
}

// apply sets out's body, length and headers and p's payload hash as the
// plan says; sp is the spooled body for bodySpool. A body that fails a
// streamed check (a short one, a wrong hash or checksum, a caller gone)
// stops the upload before its last byte or final chunk, so nothing is stored.
func (plan payloadPlan) apply(out *http.Request, p *sigv4.Params, cp *callerPayload, sp *spool) error {
	if plan.checkClaim && plan.body != bodySpool && plan.body != bodyNone {
		out.Body = newHoldbackReader(out.Body, cp.claimed)
	}
	switch plan.body {
	case bodyNone:
		// Checked too: an empty body is not the body that was hashed (over
		// HTTP/1.0 net/http drops a chunked body, and it arrives empty).
		if plan.checkClaim && cp.claimed != sigv4.EmptyPayloadHash {
			return mismatchErr(sigv4.EmptyPayloadHash, cp.claimed)
		}
	case bodySpool:
		if plan.checkClaim && cp.claimed != sp.hash {
			return mismatchErr(sp.hash, cp.claimed)
		}
		out.Body, out.ContentLength, out.TransferEncoding = sp.reader(), sp.size, nil
		out.GetBody = func() (io.ReadCloser, error) { return sp.reader(), nil }
	case bodyUnsignedChunks:
		c := *cp // the method value keeps a copy: the caller's cp stays on its stack
		o := sigv4.StreamingOptions{DecodedLength: out.ContentLength, Trailer: c.trailer, TrailerValue: c.trailerValue}
		out.Body = sigv4.NewUnsignedTrailerBody(out.Body, o)
		out.ContentLength = sigv4.EncodedLength(sigv4.StreamingUnsignedPayloadTrailer, o.DecodedLength, sigv4.DefaultChunkSize, sigv4.ChecksumTrailerLen(cp.trailer))
		out.Header.Set("Content-Encoding", joinEncoding("aws-chunked", out.Header.Get("Content-Encoding")))
		out.Header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(o.DecodedLength, 10))
		out.Header.Set("X-Amz-Trailer", cp.trailer)
		out.GetBody = nil
	case bodyStream, bodySignedChunks:
		out.GetBody = nil // read once: the transport cannot replay it
	}
	if plan.trailer == trailerHeader {
		v, err := cp.trailerValue()
		if err != nil {
			return err
		}
		out.Header.Set(cp.trailer, v) // the checksum goes on as a header
	}
	switch plan.hash {
	case hashEmpty:
		p.PayloadHash = sigv4.EmptyPayloadHash
	case hashUnsigned:
		p.PayloadHash = sigv4.UnsignedPayload
	case hashClaimed:
		p.PayloadHash = cp.claimed
	case hashSpooled:
		p.PayloadHash = sp.hash
	case hashStreaming:
		p.PayloadHash = sigv4.StreamingUnsignedPayloadTrailer // the chunk signer sets its own
	}
	return nil
}

func joinEncoding(first, rest string) string {
	if rest == "" {
		return first
	}
	return first + "," + rest
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

// cloneForSigning copies what signing changes: the URL (S3 paths are
// re-encoded, presigning edits the query) and the header map.
func cloneForSigning(r *http.Request) *http.Request {
	out := new(http.Request)
	*out = *r
	u := *r.URL
	out.URL = &u
	out.Header = cloneHeader(r.Header)
	return out
}

// cloneHeader is http.Header.Clone with room for the four headers the signer
// adds, so the map does not grow on every request.
func cloneHeader(h http.Header) http.Header {
	n := 0
	for _, vv := range h {
		n += len(vv)
	}
	all := make([]string, n)
	h2 := make(http.Header, len(h)+4)
	for k, vv := range h {
		if vv == nil {
			h2[k] = nil
			continue
		}
		n = copy(all, vv)
		h2[k] = all[:n:n]
		all = all[n:]
	}
	return h2
}
