package proxy

import (
	"io"
	"net/http"
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
}

func (t *signingTransport) RoundTrip(in *http.Request) (*http.Response, error) {
	rt := t.route
	creds, err := rt.Credentials(in.Context())
	if err != nil {
		closeBody(in)
		return nil, &CredentialsError{Err: err}
	}
	out := cloneForSigning(in)
	p := rt.params
	// S3 presigned URLs never cover the body, whatever the payload mode.
	presignedS3 := rt.SignQuery && rt.s3
	unsigned := presignedS3 || rt.unsignedBody()
	var sp *spool
	switch {
	case !hasBody(out) && presignedS3:
		p.PayloadHash = sigv4.UnsignedPayload
	case !hasBody(out):
		p.PayloadHash = sigv4.EmptyPayloadHash
	case unsigned && (out.ContentLength > 0 || !rt.s3):
		// Streams untouched. S3 refuses a chunked PUT, so a body of unknown
		// length to S3 takes the spool below to learn its length.
		p.PayloadHash = sigv4.UnsignedPayload
	default:
		sp, err = newSpool(out.Body, rt.SpoolMemoryBytes, rt.MaxBodyBytes, rt.SpoolDir)
		closeBody(in)
		if err != nil {
			return nil, err
		}
		defer sp.release() // readers hold their own references
		out.Body, out.ContentLength, out.TransferEncoding = sp.reader(), sp.size, nil
		out.GetBody = func() (io.ReadCloser, error) { return sp.reader(), nil }
		p.PayloadHash = sp.hash
		if unsigned {
			p.PayloadHash = sigv4.UnsignedPayload
		}
	}
	now := t.now()
	if rt.SignQuery {
		err = t.signer.Presign(out, creds, &p, now, rt.Lifetime)
	} else {
		err = t.signer.SignHeaders(out, creds, &p, now)
	}
	if err != nil {
		closeBody(out)
		return nil, err
	}
	return t.base.RoundTrip(out)
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
