package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/signway/signway/internal/config"
)

// spoolChunkSize is the piece in which a spool takes memory as the body
// arrives: a stalled upload holds at most its threshold, never a buffer
// sized for a body it has not received.
const spoolChunkSize = 32 << 10

type spoolChunk = [spoolChunkSize]byte

var spoolChunks = sync.Pool{New: func() any { return new(spoolChunk) }}

// SpoolBudget caps the bytes all spools together hold in memory. A body
// that would take it over its limit is spooled to a temporary file instead,
// so a burst of uploads costs disk, not memory. One budget is shared by all
// routes and survives reloads.
type SpoolBudget struct {
	limit atomic.Int64
	used  atomic.Int64
}

// NewSpoolBudget returns a budget of limit bytes (limits.spool_memory's
// default when 0 or less).
func NewSpoolBudget(limit int64) *SpoolBudget {
	b := &SpoolBudget{}
	b.SetLimit(limit)
	return b
}

// SetLimit changes the limit (a reload); bytes already held stay counted.
func (b *SpoolBudget) SetLimit(limit int64) {
	if limit <= 0 {
		limit = int64(config.DefaultSpoolMemory)
	}
	b.limit.Store(limit)
}

// InUse is the number of bytes spools hold in memory now.
func (b *SpoolBudget) InUse() int64 { return b.used.Load() }

func (b *SpoolBudget) acquire(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit.Load() {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *SpoolBudget) release(n int64) { b.used.Add(-n) }

// spool is a request body read once, hashed, and kept (in pooled memory up
// to a threshold and within the shared budget, else in an unlinked
// temporary file) so it can be sent with a known length and re-sent if the
// transport retries.
type spool struct {
	chunks []*spoolChunk
	budget *SpoolBudget
	file   *os.File
	size   int64
	hash   string
	refs   atomic.Int32
	// past is the byte read beyond the threshold to learn that the body
	// goes on; toFile writes it after the chunks.
	past    [1]byte
	hasPast bool
}

// newSpool reads body to the end. Up to memLimit bytes stay in memory,
// taken from a pool a chunk at a time as they arrive and counted against
// budget; a longer body, or one the budget has no room for, goes to a
// temporary file in dir that is unlinked at once, so it is removed however
// the process ends. More than maxBytes is a *BodyTooLargeError.
func newSpool(body io.Reader, memLimit, maxBytes int64, dir string, budget *SpoolBudget) (*spool, error) {
	h := sha256.New()
	body = io.TeeReader(body, h)
	s := &spool{budget: budget}
	s.refs.Store(1)
	inMemory, err := s.fill(body, memLimit)
	if err == nil && !inMemory {
		err = s.toFile(body, maxBytes, dir)
	}
	if err == nil && s.size > maxBytes {
		err = &BodyTooLargeError{Limit: maxBytes}
	}
	if err != nil {
		s.release()
		return nil, err
	}
	s.hash = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// fill reads body into chunks until it ends (true), or until memLimit or
// the budget is reached with more to come (false).
func (s *spool) fill(body io.Reader, memLimit int64) (bool, error) {
	for s.size < memLimit {
		if !s.budget.acquire(spoolChunkSize) {
			return false, nil
		}
		c := spoolChunks.Get().(*spoolChunk)
		s.chunks = append(s.chunks, c)
		n, err := io.ReadFull(body, c[:min(spoolChunkSize, memLimit-s.size)])
		s.size += int64(n)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return true, nil
		case err != nil:
			return false, &BodyReadError{Err: err}
		}
	}
	// At the threshold: a body that ends exactly here stays in memory.
	for {
		n, err := body.Read(s.past[:])
		switch {
		case n > 0:
			s.hasPast = true
			return false, nil
		case err == io.EOF:
			return true, nil
		case err != nil:
			return false, &BodyReadError{Err: err}
		}
	}
}

func (s *spool) toFile(rest io.Reader, maxBytes int64, dir string) error {
	f, err := os.CreateTemp(dir, "signway-body-*")
	if err != nil {
		return fmt.Errorf("creating a temporary file for the request body: %w", err)
	}
	os.Remove(f.Name()) // unlinked now: nothing is left behind whatever happens next
	s.file = f
	for i, c := range s.chunks {
		n := min(int64(spoolChunkSize), s.size-int64(i)*spoolChunkSize)
		if _, err := f.Write(c[:n]); err != nil {
			return fmt.Errorf("spooling the request body: %w", err)
		}
	}
	if s.hasPast {
		if _, err := f.Write(s.past[:]); err != nil {
			return fmt.Errorf("spooling the request body: %w", err)
		}
		s.size++
	}
	s.freeChunks() // from here on a stall costs one copy buffer
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	// writerOnly hides f's ReadFrom, which would allocate a buffer of its own.
	n, err := io.CopyBuffer(writerOnly{f}, io.LimitReader(rest, maxBytes+1-s.size), *buf)
	s.size += n
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("spooling the request body: %w", err)
		}
		return &BodyReadError{Err: err}
	}
	return nil
}

type writerOnly struct{ io.Writer }

func (s *spool) freeChunks() {
	for _, c := range s.chunks {
		spoolChunks.Put(c)
	}
	s.budget.release(int64(len(s.chunks)) * spoolChunkSize)
	s.chunks = nil
}

// ReadAt reads the spooled bytes wherever they are.
func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	if s.file != nil {
		return s.file.ReadAt(p, off)
	}
	n := 0
	for n < len(p) && off < s.size {
		c := s.chunks[off/spoolChunkSize]
		end := min(int64(spoolChunkSize), s.size-off/spoolChunkSize*spoolChunkSize)
		m := copy(p[n:], c[off%spoolChunkSize:end])
		n += m
		off += int64(m)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// reader returns a fresh body over the spooled bytes; each one holds a
// reference, so the memory and the file stay until the last is closed.
func (s *spool) reader() io.ReadCloser {
	s.refs.Add(1)
	return &spoolReader{r: io.NewSectionReader(s, 0, s.size), s: s}
}

func (s *spool) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	if s.file != nil {
		s.file.Close()
	}
	s.freeChunks()
}

// spoolReader is one pass over a spool. Read and Close exclude each other:
// a transport may close a body from another goroutine while it is being
// read, and the chunks must not go back to the pool under a reader.
type spoolReader struct {
	mu     sync.Mutex
	r      *io.SectionReader
	s      *spool
	closed bool
}

func (r *spoolReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errors.New("read on a closed request body")
	}
	return r.r.Read(p)
}

func (r *spoolReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.s.release()
	}
	return nil
}
