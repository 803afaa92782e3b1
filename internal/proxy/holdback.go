package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

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
		r.err = mismatchErr(got, r.want)
		return r.err
	}
	return nil
}

func (r *holdbackReader) Close() error { return r.body.Close() }
