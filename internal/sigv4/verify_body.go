package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strings"
)

type hashCheckingReader struct {
	body io.ReadCloser
	want string
	h    hash.Hash
	err  error
}

// NewHashCheckingReader returns body wrapped so that reading it to the end
// yields a *VerifyError of kind BodyHashMismatch instead of io.EOF when the
// body's SHA-256 is not wantHex. It is how a streamed body is held to the
// x-amz-content-sha256 it was signed with, without buffering it. A wantHex
// that is not a hash (UNSIGNED-PAYLOAD, STREAMING-*) checks nothing and body
// is returned as is.
func NewHashCheckingReader(body io.ReadCloser, wantHex string) io.ReadCloser {
	if !isHexHash(wantHex) {
		return body
	}
	if body == nil {
		body = http.NoBody
	}
	return &hashCheckingReader{body: body, want: strings.ToLower(wantHex), h: sha256.New()}
}

func (r *hashCheckingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.body.Read(p)
	r.h.Write(p[:n])
	if err == io.EOF {
		var sum [32]byte
		got := hex.EncodeToString(r.h.Sum(sum[:0]))
		if got != r.want {
			r.err = verr(BodyHashMismatch, "the body's SHA-256 is %s but x-amz-content-sha256 claims %s: send the body that was hashed", got, r.want)
			return n, r.err
		}
		r.err = io.EOF
	}
	return n, err
}

func (r *hashCheckingReader) Close() error { return r.body.Close() }
