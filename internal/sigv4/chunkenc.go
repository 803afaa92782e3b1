package sigv4

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
)

// chunkHeaderRoom is the space kept in front of a chunk's data for its
// header (hex size, ";chunk-signature=", up to 144 signature characters and
// CRLF), so the data is read once, in place, and never copied.
const chunkHeaderRoom = 192

// chunkedReader encodes a body as aws-chunked, one chunk at a time: memory is
// one chunk buffer whatever the body's size.
type chunkedReader struct {
	body      io.Reader
	chain     *chunkChain // nil: unsigned chunks
	size      int
	remaining int64
	trailer   string
	value     func() (string, error)
	ck        hash.Hash
	frame     []byte
	out       []byte // what Read hands out next
	done      bool   // the final chunk is in out
	probed    bool   // the body's end has been checked
	err       error
}

// frames recycles chunk buffers of the default size between requests.
var frames = sync.Pool{New: func() any {
	b := make([]byte, chunkHeaderRoom+DefaultChunkSize+2)
	return &b
}}

func newChunkedReader(body io.Reader, chain *chunkChain, o StreamingOptions) *chunkedReader {
	r := &chunkedReader{body: body, chain: chain, size: o.ChunkSize, remaining: o.DecodedLength, trailer: o.Trailer, value: o.TrailerValue}
	if r.trailer != "" && r.value == nil {
		r.ck = ChecksumHash(r.trailer)
	}
	return r
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			r.err = io.EOF
			r.release()
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			r.err = err
			r.release()
			return 0, err
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

func (r *chunkedReader) release() {
	if r.frame != nil && cap(r.frame) == chunkHeaderRoom+DefaultChunkSize+2 {
		f := r.frame[:cap(r.frame)]
		frames.Put(&f)
	}
	r.frame, r.out = nil, nil
}

// Close closes the body when it can be closed. It touches nothing else: the
// HTTP transport may close a request body while another goroutine is still
// reading it, so the buffer goes back to the pool only from Read.
func (r *chunkedReader) Close() error {
	if c, ok := r.body.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// next fills out with the next chunk, or the final chunk and trailers.
func (r *chunkedReader) next() error {
	if r.frame == nil {
		if r.size == DefaultChunkSize {
			r.frame = *frames.Get().(*[]byte)
		} else {
			r.frame = make([]byte, chunkHeaderRoom+r.size+2)
		}
	}
	n := int(min(int64(r.size), r.remaining))
	if n == 0 {
		return r.final()
	}
	data := r.frame[chunkHeaderRoom : chunkHeaderRoom+n]
	if m, err := io.ReadFull(r.body, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("aws-chunked body: the body ended %d bytes short of its declared length: %w", r.remaining-int64(m), io.ErrUnexpectedEOF)
		}
		return err
	}
	r.remaining -= int64(n)
	if r.remaining == 0 {
		// The last data chunk waits until the body is known to end here:
		// its own failures (a hash or checksum mismatch found at its end)
		// then keep back data, not only the final chunk, which some
		// servers do not insist on.
		if err := r.probeEOF(); err != nil {
			return err
		}
	}
	if r.ck != nil {
		r.ck.Write(data)
	}
	var hdr [chunkHeaderRoom]byte
	h := strconv.AppendInt(hdr[:0], int64(n), 16)
	if r.chain != nil {
		sum := sha256.Sum256(data)
		sig, err := r.chain.signChunk(&sum)
		if err != nil {
			return err
		}
		h = append(append(h, chunkSigKey...), sig...)
	}
	h = append(h, '\r', '\n')
	start := chunkHeaderRoom - len(h)
	copy(r.frame[start:], h)
	end := chunkHeaderRoom + n
	r.frame[end], r.frame[end+1] = '\r', '\n'
	r.out = r.frame[start : end+2]
	return nil
}

// probeEOF checks that the body has ended where its declared length says.
func (r *chunkedReader) probeEOF() error {
	r.probed = true
	var probe [1]byte
	for {
		m, err := r.body.Read(probe[:])
		if m > 0 {
			return errors.New("aws-chunked body: the body is longer than its declared length")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// final writes the zero-length chunk and the trailers.
func (r *chunkedReader) final() error {
	if !r.probed { // an empty body
		if err := r.probeEOF(); err != nil {
			return err
		}
	}
	b := append(r.frame[:0], '0')
	if r.chain != nil {
		empty := sha256.Sum256(nil)
		sig, err := r.chain.signChunk(&empty)
		if err != nil {
			return err
		}
		b = append(append(b, chunkSigKey...), sig...)
	}
	b = append(b, '\r', '\n')
	if r.trailer != "" {
		var v string
		if r.ck != nil {
			v = ChecksumValue(r.ck)
		} else {
			var err error
			if v, err = r.value(); err != nil {
				return err
			}
		}
		start := len(b)
		b = append(append(append(b, r.trailer...), ':'), v...)
		b = append(b, '\n')
		if r.chain != nil {
			// The trailer is signed in its canonical form, "name:value\n".
			sig, err := r.chain.signTrailer(b[start:])
			if err != nil {
				return err
			}
			b = append(append(b[:len(b)-1], '\r', '\n'), trailerSigHeader...)
			b = append(append(b, ':'), sig...)
			b = append(b, '\r', '\n')
		} else {
			b = append(b[:len(b)-1], '\r', '\n')
		}
	}
	b = append(b, '\r', '\n')
	r.out, r.done = b, true
	return nil
}
