package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/signway/signway/internal/sigv4"
)

// PayloadError is a body that does not match what the caller said about it:
// a malformed aws-chunked envelope, a trailing checksum or an
// x-amz-content-sha256 that the data does not match. The caller gets 400
// with Code; nothing reaches storage, because the upstream request is either
// never sent or aborted before its last byte.
type PayloadError struct {
	Code string // S3's code for the problem, e.g. XAmzContentSHA256Mismatch
	Msg  string
	Err  error
}

func (e *PayloadError) Error() string { return e.Msg }
func (e *PayloadError) Unwrap() error { return e.Err }

// callerPayload is what the caller said about its body, taken off the
// request before signing.
type callerPayload struct {
	claimed string              // a hex SHA-256 the body must match; "" for none
	dec     *sigv4.ChunkDecoder // the caller's aws-chunked envelope, being removed
	trailer string              // the caller's trailing checksum header, lowercase
}

// takeCallerPayload reads and removes the caller's x-amz-content-sha256 and,
// for an aws-chunked body (Content-Encoding aws-chunked, or a STREAMING-*
// marker), replaces the body with its decoded bytes and the length with
// x-amz-decoded-content-length (-1 when absent), so that what is signed and
// stored is the caller's data, never the envelope.
func takeCallerPayload(out *http.Request) (callerPayload, error) {
	var cp callerPayload
	h := out.Header
	claimed := strings.TrimSpace(h.Get("X-Amz-Content-Sha256"))
	delete(h, "X-Amz-Content-Sha256")
	chunked := sigv4.IsStreamingMarker(claimed)
	var encodings []string
	for _, v := range h.Values("Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			switch e = strings.TrimSpace(e); {
			case strings.EqualFold(e, "aws-chunked"):
				chunked = true
			case e != "":
				encodings = append(encodings, e)
			}
		}
	}
	if !chunked {
		if len(claimed) == 64 {
			if _, err := hex.DecodeString(claimed); err == nil {
				cp.claimed = strings.ToLower(claimed)
			}
		}
		return cp, nil
	}
	delete(h, "Content-Encoding")
	if len(encodings) > 0 {
		h.Set("Content-Encoding", strings.Join(encodings, ","))
	}
	declared := int64(-1)
	if s := h.Get("X-Amz-Decoded-Content-Length"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return cp, &PayloadError{Code: "InvalidArgument", Msg: fmt.Sprintf("x-amz-decoded-content-length %q is not a length", s)}
		}
		declared = n
	}
	cp.trailer = strings.ToLower(strings.TrimSpace(h.Get("X-Amz-Trailer")))
	if cp.trailer != "" && sigv4.ChecksumHash(cp.trailer) == nil {
		return cp, &PayloadError{Code: "InvalidRequest", Msg: fmt.Sprintf("x-amz-trailer %q is not a checksum signway can carry: use crc32, crc32c, crc64nvme, sha1 or sha256", cp.trailer)}
	}
	delete(h, "X-Amz-Decoded-Content-Length")
	delete(h, "X-Amz-Trailer")
	body := out.Body
	if body == nil {
		body = http.NoBody
	}
	cp.dec = sigv4.NewChunkDecoder(body, declared, cp.trailer)
	out.Body = decodedBody{cp.dec, body}
	out.ContentLength, out.TransferEncoding = declared, nil
	if declared == 0 {
		// Nothing to send; the envelope is still read, so a malformed one
		// fails here rather than being ignored.
		if _, err := io.Copy(io.Discard, out.Body); err != nil {
			return cp, payloadErr(err)
		}
		out.Body.Close()
		out.Body = http.NoBody
	}
	return cp, nil
}

// trailerValue is the caller's checksum, known (and checked against the
// data by the decoder) once the body has been read to its end.
func (cp *callerPayload) trailerValue() (string, error) {
	v := cp.dec.Trailers().Get(cp.trailer)
	if v == "" {
		return "", &PayloadError{Code: "MalformedTrailerError", Msg: "the caller's aws-chunked body has no " + cp.trailer + " trailer"}
	}
	return v, nil
}

type decodedBody struct {
	io.Reader
	body io.ReadCloser
}

func (d decodedBody) Close() error { return d.body.Close() }

// payloadErr turns what the decoder or the hash check found into a
// *PayloadError, leaving other errors (a caller gone away) as they are.
func payloadErr(err error) error {
	var ce *sigv4.ChunkError
	if errors.As(err, &ce) {
		code := "IncompleteBody"
		if ce.Is(sigv4.ErrChunkChecksum) {
			code = "BadDigest"
		}
		return &PayloadError{Code: code, Msg: "the caller's aws-chunked body: " + ce.Reason, Err: err}
	}
	return err
}

// holdbackReader hashes a streamed body and keeps its last byte back until
// the hash is known to match: with a Content-Length (or a final aws-chunked
// frame) still owed, the upstream cannot complete, and so cannot store, a
// body whose hash was wrong.
type holdbackReader struct {
	body  io.ReadCloser
	want  string
	h     hash.Hash
	stash byte
	has   bool // stash holds a byte not yet handed out
	eof   bool // the body ended and its hash matched; only the stash is left
	err   error
}

func newHoldbackReader(body io.ReadCloser, wantHex string) *holdbackReader {
	return &holdbackReader{body: body, want: wantHex, h: sha256.New()}
}

func (r *holdbackReader) Read(p []byte) (int, error) {
	switch {
	case r.err != nil || len(p) == 0:
		return 0, r.err
	case r.eof:
		p[0], r.has, r.err = r.stash, false, io.EOF
		return 1, io.EOF
	case !r.has:
		m, err := r.body.Read(p)
		r.h.Write(p[:m])
		return r.finish(p, m, err)
	case len(p) == 1:
		var one [1]byte
		m, err := r.body.Read(one[:])
		r.h.Write(one[:m])
		if m == 0 {
			if err != io.EOF {
				r.err = err
				return 0, err // nil: nothing new, the stash stays
			}
			if err := r.check(); err != nil {
				return 0, err
			}
			p[0], r.has, r.err = r.stash, false, io.EOF
			return 1, io.EOF
		}
		p[0], r.stash = r.stash, one[0]
		if err == io.EOF {
			if err := r.check(); err != nil {
				return 0, err
			}
			r.eof = true
			return 1, nil
		}
		if err != nil {
			r.err = err
			return 0, err
		}
		return 1, nil
	}
	p[0], r.has = r.stash, false
	m, err := r.body.Read(p[1:])
	r.h.Write(p[1 : 1+m])
	return r.finish(p, 1+m, err)
}

// finish hands out p[:n] but its last byte, unless the body has ended with
// the right hash.
func (r *holdbackReader) finish(p []byte, n int, err error) (int, error) {
	switch {
	case err == io.EOF:
		if err := r.check(); err != nil {
			return 0, err
		}
		r.err = io.EOF
		return n, io.EOF
	case err != nil:
		r.err = err
		return 0, err
	case n > 0:
		r.stash, r.has = p[n-1], true
		return n - 1, nil
	}
	return n, nil
}

func (r *holdbackReader) check() error {
	if got := hex.EncodeToString(r.h.Sum(nil)); got != r.want {
		r.err = &PayloadError{Code: "XAmzContentSHA256Mismatch",
			Msg: fmt.Sprintf("the body's SHA-256 is %s but x-amz-content-sha256 says %s: send the body that was hashed, or leave the header out", got, r.want)}
		return r.err
	}
	return nil
}

func (r *holdbackReader) Close() error { return r.body.Close() }

// isObjectUpload reports a PutObject or UploadPart: a PUT to an object key
// with no query but partNumber, uploadId and x-id. Bucket-level PUTs (policy,
// tagging, ...) carry small XML bodies that are hashed instead.
func (rt *Route) isObjectUpload(r *http.Request) bool {
	if r.Method != http.MethodPut || r.Header.Get("X-Amz-Copy-Source") != "" {
		return false
	}
	for q := r.URL.RawQuery; q != ""; {
		var piece string
		piece, q, _ = strings.Cut(q, "&")
		k, _, _ := strings.Cut(piece, "=")
		if k != "" && k != "partNumber" && k != "uploadId" && k != "x-id" {
			return false
		}
	}
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	if rt.virtualHosted {
		return path != ""
	}
	bucket, key, _ := strings.Cut(path, "/")
	return bucket != "" && key != ""
}

// virtualHostedS3 reports an S3 endpoint whose host names the bucket (or
// access point), so the whole path is the key.
func virtualHostedS3(host string) bool {
	host = strings.ToLower(host)
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	first, rest, _ := strings.Cut(host, ".")
	return strings.HasPrefix(rest, "s3") && !strings.HasPrefix(first, "s3") ||
		strings.Contains(host, ".mrap.accesspoint.")
}
