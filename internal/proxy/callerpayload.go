package proxy

import (
	"encoding/hex"
	"errors"
	"fmt"
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
// for an aws-chunked body, replaces the body with its decoded bytes and the
// length with x-amz-decoded-content-length (-1 when absent), so that what is
// signed and stored is the caller's data, never the envelope.
//
// A body is aws-chunked when the caller's hash is a STREAMING-* marker or it
// declares x-amz-decoded-content-length: Content-Encoding: aws-chunked beside
// a plain hash is a plain body, as S3 takes it. The aws-chunked token is
// dropped either way: it describes the transfer, never the object.
func takeCallerPayload(out *http.Request) (callerPayload, error) {
	var cp callerPayload
	h := out.Header
	claimed := strings.TrimSpace(h.Get("X-Amz-Content-Sha256"))
	delete(h, "X-Amz-Content-Sha256")
	chunked := sigv4.IsStreamingMarker(claimed) || h.Get("X-Amz-Decoded-Content-Length") != ""
	stripAWSChunked(h)
	if !chunked {
		if len(claimed) == 64 {
			if _, err := hex.DecodeString(claimed); err == nil {
				cp.claimed = strings.ToLower(claimed)
			}
		}
		return cp, nil
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
	dec, err := callerChunkDecoder(out.Context(), body, declared, cp.trailer)
	if err != nil {
		return cp, err
	}
	cp.dec = dec
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

// stripAWSChunked removes the aws-chunked token from Content-Encoding and
// keeps the object's own encodings (gzip, ...): the token describes the
// transfer, never the object.
func stripAWSChunked(h http.Header) {
	if _, ok := h["Content-Encoding"]; !ok {
		return
	}
	var encs []string
	for _, v := range h.Values("Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
				encs = append(encs, e)
			}
		}
	}
	delete(h, "Content-Encoding")
	if len(encs) > 0 {
		h.Set("Content-Encoding", strings.Join(encs, ","))
	}
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

// mismatchErr is a body whose SHA-256 is not the caller's x-amz-content-sha256.
func mismatchErr(got, claimed string) *PayloadError {
	return &PayloadError{Code: "XAmzContentSHA256Mismatch",
		Msg: fmt.Sprintf("the body's SHA-256 is %s but x-amz-content-sha256 says %s: send the body that was hashed, or leave the header out", got, claimed)}
}
