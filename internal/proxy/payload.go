package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// BodyTooLargeError is a body over the route's limit; the caller gets 413.
type BodyTooLargeError struct{ Limit int64 }

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("request body exceeds the limit of %d bytes that this route hashes before signing", e.Limit)
}

// BodyReadError is a failure to read the caller's body (a client that went
// away or sent a truncated body).
type BodyReadError struct{ Err error }

func (e *BodyReadError) Error() string { return "reading the request body: " + e.Err.Error() }
func (e *BodyReadError) Unwrap() error { return e.Err }

// spool is a request body read once, hashed, and kept (in memory up to a
// bound, then in an unlinked temporary file) so it can be sent with a known
// length and re-sent if the transport retries.
type spool struct {
	mem  []byte
	file *os.File
	size int64
	hash string
	refs atomic.Int32
}

var spoolBufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// newSpool reads body to the end. memLimit bytes stay in memory; beyond that
// the body goes to a temporary file that is unlinked at once, so it is removed
// however the process ends. More than maxBytes is a *BodyTooLargeError.
func newSpool(body io.Reader, memLimit, maxBytes int64, dir string) (*spool, error) {
	h := sha256.New()
	buf := spoolBufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer spoolBufPool.Put(buf)
	n, err := io.Copy(buf, io.LimitReader(io.TeeReader(body, h), memLimit+1))
	if err != nil {
		return nil, &BodyReadError{Err: err}
	}
	s := &spool{}
	if n <= memLimit {
		s.mem = bytes.Clone(buf.Bytes())
		s.size = n
	} else {
		if err := s.toFile(buf.Bytes(), io.TeeReader(body, h), maxBytes, dir); err != nil {
			return nil, err
		}
	}
	if s.size > maxBytes {
		s.release()
		return nil, &BodyTooLargeError{Limit: maxBytes}
	}
	s.hash = hex.EncodeToString(h.Sum(nil))
	s.refs.Store(1)
	return s, nil
}

func (s *spool) toFile(head []byte, rest io.Reader, maxBytes int64, dir string) error {
	f, err := os.CreateTemp(dir, "signway-body-*")
	if err != nil {
		return fmt.Errorf("creating a temporary file for the request body: %w", err)
	}
	os.Remove(f.Name()) // unlinked now: nothing is left behind whatever happens next
	s.file = f
	if _, err := f.Write(head); err != nil {
		f.Close()
		return fmt.Errorf("spooling the request body: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(rest, maxBytes+1-int64(len(head))))
	s.size = int64(len(head)) + n
	if err != nil {
		f.Close()
		var we *os.PathError
		if errors.As(err, &we) {
			return fmt.Errorf("spooling the request body: %w", err)
		}
		return &BodyReadError{Err: err}
	}
	return nil
}

// reader returns a fresh body over the spooled bytes; each one holds a
// reference so the file stays open until the last reader is closed.
func (s *spool) reader() io.ReadCloser {
	s.refs.Add(1)
	if s.file == nil {
		return &spoolReader{Reader: bytes.NewReader(s.mem), s: s}
	}
	return &spoolReader{Reader: io.NewSectionReader(s.file, 0, s.size), s: s}
}

func (s *spool) release() {
	if s.refs.Add(-1) <= 0 && s.file != nil {
		s.file.Close()
	}
}

type spoolReader struct {
	io.Reader
	s    *spool
	once sync.Once
}

func (r *spoolReader) Close() error {
	r.once.Do(r.s.release)
	return nil
}
