package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// signingTransport signs each request on a clone, at send time, with
// credentials fetched from the route's cache, then hands it to the upstream
// transport. Signing at send time keeps X-Amz-Date fresh however long the
// request waited, and a clone keeps the RoundTripper contract.
type signingTransport struct {
	route  *Route
	base   http.RoundTripper
	signer *sigv4.Signer
	now    func() time.Time
	conns  *UpstreamConns
}

func (t *signingTransport) RoundTrip(in *http.Request) (*http.Response, error) {
	rt := t.route
	creds, err := rt.Credentials(in.Context())
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
	p := rt.params
	now := t.now()
	// S3 presigned URLs never cover the body, whatever the payload mode.
	presignedS3 := rt.SignQuery && rt.s3
	unsigned := presignedS3 || rt.Payload == PayloadUnsigned
	switch {
	case !hasBody(out) && presignedS3:
		p.PayloadHash = sigv4.UnsignedPayload
	case !hasBody(out):
		p.PayloadHash = sigv4.EmptyPayloadHash
	case rt.streams(out):
		return t.roundTripStreaming(out, creds, &p, &cp, now)
	case unsigned && (out.ContentLength > 0 || !rt.s3):
		// Streams untouched. S3 refuses a chunked PUT, so a body of unknown
		// length to S3 takes the spool below to learn its length.
		p.PayloadHash = sigv4.UnsignedPayload
		if cp.claimed != "" {
			out.Body = newHoldbackReader(out.Body, cp.claimed)
			if !presignedS3 {
				// Signed too, so the upstream checks the body against it:
				// cutting a bad body short is then not the only safeguard.
				p.PayloadHash = cp.claimed
			}
		}
		if cp.dec != nil && cp.trailer != "" && !presignedS3 && out.ContentLength > 0 {
			// Re-framed so the caller's checksum still reaches S3.
			o := sigv4.StreamingOptions{DecodedLength: out.ContentLength, Trailer: cp.trailer, TrailerValue: cp.trailerValue}
			out.Body = sigv4.NewUnsignedTrailerBody(out.Body, o)
			out.ContentLength = sigv4.EncodedLength(sigv4.StreamingUnsignedPayloadTrailer, o.DecodedLength, sigv4.DefaultChunkSize, sigv4.ChecksumTrailerLen(cp.trailer))
			out.Header.Set("Content-Encoding", joinEncoding("aws-chunked", out.Header.Get("Content-Encoding")))
			out.Header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(o.DecodedLength, 10))
			out.Header.Set("X-Amz-Trailer", cp.trailer)
			p.PayloadHash = sigv4.StreamingUnsignedPayloadTrailer
		}
		out.GetBody = nil
	default:
		sp, err := newSpool(out.Body, rt.SpoolMemoryBytes, rt.MaxBodyBytes, rt.SpoolDir)
		closeBody(in)
		if err != nil {
			return nil, payloadErr(err)
		}
		defer sp.release() // readers hold their own references
		if cp.claimed != "" && cp.claimed != sp.hash {
			return nil, &PayloadError{Code: "XAmzContentSHA256Mismatch",
				Msg: fmt.Sprintf("the body's SHA-256 is %s but x-amz-content-sha256 says %s: send the body that was hashed, or leave the header out", sp.hash, cp.claimed)}
		}
		if cp.dec != nil && cp.trailer != "" {
			v, err := cp.trailerValue()
			if err != nil {
				return nil, err
			}
			out.Header.Set(cp.trailer, v) // the checksum goes on as a header
		}
		out.Body, out.ContentLength, out.TransferEncoding = sp.reader(), sp.size, nil
		out.GetBody = func() (io.ReadCloser, error) { return sp.reader(), nil }
		p.PayloadHash = sp.hash
		if unsigned {
			p.PayloadHash = sigv4.UnsignedPayload
		}
	}
	switch {
	case rt.SignQuery && rt.v4a:
		err = t.signer.PresignV4A(out, creds, &p, rt.RegionSet, now, rt.Lifetime)
	case rt.SignQuery:
		err = t.signer.Presign(out, creds, &p, now, rt.Lifetime)
	case rt.v4a:
		err = t.signer.SignHeadersV4A(out, creds, &p, rt.RegionSet, now)
	default:
		err = t.signer.SignHeaders(out, creds, &p, now)
	}
	if err != nil {
		closeBody(out)
		return nil, err
	}
	return t.send(out)
}

// send hands the signed request to the upstream transport.
func (t *signingTransport) send(out *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, payloadErr(err)
	}
	t.conns.track(resp)
	return resp, nil
}

// roundTripStreaming sends out's body as aws-chunked with each chunk signed:
// the body is read once, a chunk at a time, and nothing is spooled. A body
// that fails (short, long, a wrong hash or checksum, a caller gone) stops
// the upload before its final chunk, so S3 stores nothing.
func (t *signingTransport) roundTripStreaming(out *http.Request, creds sigv4.Credentials, p *sigv4.Params, cp *callerPayload, now time.Time) (*http.Response, error) {
	rt := t.route
	body := out.Body
	if cp.claimed != "" {
		body = newHoldbackReader(body, cp.claimed)
	}
	o := sigv4.StreamingOptions{DecodedLength: out.ContentLength}
	if cp.dec != nil && cp.trailer != "" {
		o.Trailer, o.TrailerValue = cp.trailer, cp.trailerValue
	}
	if rt.v4a {
		o.RegionSet = rt.RegionSet
	}
	cs, err := t.signer.SignHeadersStreaming(out, creds, p, o, now)
	if err != nil {
		closeBody(out)
		return nil, err
	}
	out.Body, out.GetBody = cs.Body(body), nil
	return t.send(out)
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
