package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// ErrChunkSignature matches (errors.Is) a *ChunkError for a chunk or trailer
// signature that does not verify; ErrChunkChecksum one for a trailing
// checksum that does not match the data.
var (
	ErrChunkSignature = errors.New("aws-chunked: signature does not match")
	ErrChunkChecksum  = errors.New("aws-chunked: checksum does not match")
)

// ChunkError is an aws-chunked body that cannot be decoded or does not
// verify. Its message says what is wrong and never quotes more than a few
// bytes of the body.
type ChunkError struct {
	Reason string
	kind   error // ErrChunkSignature, ErrChunkChecksum or nil
}

func (e *ChunkError) Error() string        { return "aws-chunked body: " + e.Reason }
func (e *ChunkError) Is(target error) bool { return target != nil && target == e.kind }

func chunkErr(format string, a ...any) *ChunkError {
	return &ChunkError{Reason: fmt.Sprintf(format, a...)}
}

// Limits that keep a hostile body from costing memory: a chunk header or
// trailer line longer than maxChunkLine, or more than maxTrailers trailers,
// is malformed.
const (
	maxChunkLine = 4096
	maxTrailers  = 16
)

type decodeState uint8

const (
	stHeader decodeState = iota
	stData
	stDone
)

// ChunkDecoder reads an aws-chunked body and yields the payload bytes. It
// reads through a small fixed buffer, whatever the chunk sizes, and fails
// with a *ChunkError on anything malformed; it never panics.
type ChunkDecoder struct {
	br        *bufio.Reader
	chain     *chunkChain // nil: chunk signatures are not checked
	declared  int64       // x-amz-decoded-content-length, -1 unknown
	read      int64
	left      int64
	state     decodeState
	chunkHash hash.Hash
	sig       []byte // the current chunk's signature
	ckName    string
	ck        hash.Hash
	trailers  http.Header
	err       error
}

// NewChunkDecoder decodes an aws-chunked body whose decoded length is
// declared (-1 when unknown) and whose trailing checksum header, if any, is
// trailer (the X-Amz-Trailer value). A checksum trailer of a known algorithm
// is checked against the data. Chunk signatures are parsed but not checked:
// use VerifiedBody for that.
func NewChunkDecoder(body io.Reader, declared int64, trailer string) *ChunkDecoder {
	d := &ChunkDecoder{br: bufio.NewReaderSize(body, maxChunkLine+16), declared: declared, trailers: http.Header{}}
	if trailer != "" {
		d.ckName = strings.ToLower(strings.TrimSpace(trailer))
		d.ck = ChecksumHash(d.ckName)
	}
	return d
}

// Trailers are the trailing headers, complete once Read has returned io.EOF.
// x-amz-trailer-signature is not among them.
func (d *ChunkDecoder) Trailers() http.Header { return d.trailers }

// Decoded is the number of payload bytes yielded so far.
func (d *ChunkDecoder) Decoded() int64 { return d.read }

func (d *ChunkDecoder) Read(p []byte) (int, error) {
	for d.err == nil {
		switch d.state {
		case stHeader:
			d.err = d.header()
		case stData:
			if len(p) == 0 {
				return 0, nil
			}
			return d.data(p)
		case stDone:
			d.err = io.EOF
		}
	}
	return 0, d.err
}

func (d *ChunkDecoder) data(p []byte) (int, error) {
	p = p[:min(int64(len(p)), d.left)]
	n, err := d.br.Read(p)
	if n > 0 {
		if d.chunkHash != nil {
			d.chunkHash.Write(p[:n])
		}
		if d.ck != nil {
			d.ck.Write(p[:n])
		}
		d.left -= int64(n)
		d.read += int64(n)
	}
	if d.left == 0 {
		if err := d.endChunk(); err != nil {
			d.err = err
			return n, nil // the error comes with the next Read
		}
	} else if err == io.EOF {
		d.err = chunkErr("the body ended inside a chunk, %d bytes short: %v", d.left, io.ErrUnexpectedEOF)
	} else if err != nil {
		d.err = err
	}
	return n, nil
}

// endChunk reads the CRLF after a chunk's data and checks its signature.
func (d *ChunkDecoder) endChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(d.br, crlf[:]); err != nil {
		return chunkErr("the body ended after a chunk's data, before its CRLF")
	}
	if crlf != [2]byte{'\r', '\n'} {
		return chunkErr("a chunk's data is not followed by CRLF: its size does not match its data")
	}
	d.state = stHeader
	if d.chain == nil {
		return nil
	}
	var sum [32]byte
	d.chunkHash.Sum(sum[:0])
	d.chunkHash.Reset()
	return d.checkChunkSig(&sum)
}

func (d *ChunkDecoder) checkChunkSig(sum *[32]byte) error {
	t := chunkTail(sum)
	if !d.chain.verify(d.chain.stringToSign("PAYLOAD", t[0], t[1]), d.sig) {
		return &ChunkError{Reason: fmt.Sprintf("the signature of the chunk ending at byte %d does not match its data", d.read), kind: ErrChunkSignature}
	}
	return nil
}

// line returns the next CRLF-terminated line without its CRLF.
func (d *ChunkDecoder) line(what string) ([]byte, error) {
	l, err := d.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, chunkErr("a %s line is longer than %d bytes", what, maxChunkLine)
	case err == io.EOF:
		return nil, chunkErr("the body ended inside a %s: %v", what, io.ErrUnexpectedEOF)
	case err != nil:
		return nil, err
	case len(l) < 2 || l[len(l)-2] != '\r':
		return nil, chunkErr("a %s line does not end with CRLF", what)
	}
	return l[:len(l)-2], nil
}

func (d *ChunkDecoder) header() error {
	l, err := d.line("chunk header")
	if err != nil {
		return err
	}
	sizeHex, ext, hasExt := bytes.Cut(l, []byte{';'})
	if len(sizeHex) == 0 || len(sizeHex) > 15 {
		return chunkErr("a chunk header has no valid hex size")
	}
	size, err := strconv.ParseInt(string(sizeHex), 16, 64)
	if err != nil || size < 0 {
		return chunkErr("chunk size %q is not hexadecimal", truncate(string(sizeHex)))
	}
	d.sig = d.sig[:0]
	if hasExt {
		v, ok := bytes.CutPrefix(ext, []byte("chunk-signature="))
		if !ok || len(v) == 0 || len(v) > v4aChunkSigLen {
			return chunkErr("a chunk header has an extension other than chunk-signature=")
		}
		d.sig = append(d.sig, v...)
	}
	if d.chain != nil && len(d.sig) == 0 {
		return chunkErr("a chunk has no chunk-signature")
	}
	if d.declared >= 0 && size > d.declared-d.read {
		return chunkErr("the chunks hold more than x-amz-decoded-content-length (%d bytes)", d.declared)
	}
	if size > 0 {
		d.left, d.state = size, stData
		return nil
	}
	return d.final()
}

// final handles the zero-length chunk, the trailers and the end of the body.
func (d *ChunkDecoder) final() error {
	if d.declared >= 0 && d.read != d.declared {
		return chunkErr("the chunks hold %d bytes but x-amz-decoded-content-length is %d", d.read, d.declared)
	}
	if d.chain != nil {
		empty := sha256.Sum256(nil)
		if err := d.checkChunkSig(&empty); err != nil {
			return err
		}
	}
	var canon []byte // "name:value\n" per trailer, as signed
	var trailerSig []byte
	for n := 0; ; n++ {
		l, err := d.line("trailer")
		if err != nil {
			return err
		}
		if len(l) == 0 {
			break
		}
		if n >= maxTrailers || trailerSig != nil {
			return chunkErr("too many trailers, or a trailer after x-amz-trailer-signature")
		}
		name, value, ok := bytes.Cut(l, []byte{':'})
		if !ok || len(name) == 0 {
			return chunkErr("a trailer line is not name:value")
		}
		k := strings.ToLower(strings.TrimSpace(string(name)))
		v := strings.TrimSpace(string(value))
		if k == trailerSigHeader {
			trailerSig = []byte(v)
			continue
		}
		d.trailers[http.CanonicalHeaderKey(k)] = append(d.trailers[http.CanonicalHeaderKey(k)], v)
		canon = append(append(append(append(canon, k...), ':'), v...), '\n')
	}
	if d.ckName != "" && d.trailers.Get(d.ckName) == "" {
		return chunkErr("x-amz-trailer announces %s but the body has no such trailer", truncate(d.ckName))
	}
	if d.chain != nil && len(canon) > 0 {
		if trailerSig == nil {
			return chunkErr("the trailers have no x-amz-trailer-signature")
		}
		if !d.chain.verify(d.chain.stringToSign("TRAILER", trailerTail(canon)), trailerSig) {
			return &ChunkError{Reason: "the trailer signature does not match the trailers", kind: ErrChunkSignature}
		}
	}
	if d.ck != nil {
		if got, want := d.trailers.Get(d.ckName), ChecksumValue(d.ck); got != want {
			return &ChunkError{Reason: fmt.Sprintf("trailer %s is %q but the data's checksum is %q", d.ckName, truncate(got), want), kind: ErrChunkChecksum}
		}
	}
	if _, err := d.br.Peek(1); err == nil {
		return chunkErr("the body goes on after its final chunk")
	} else if err != io.EOF {
		return err
	}
	d.state = stDone
	return nil
}

// VerifiedBody returns r's body checked against the signature v verified:
// an aws-chunked body (x-amz-content-sha256 STREAMING-*) is decoded with each
// chunk and trailer signature checked, a body signed by its hash is hashed as
// it is read, and an unsigned body is returned as is. A failure surfaces from
// Read as a *ChunkError or a *VerifyError.
func VerifiedBody(r *http.Request, v *Verified) (io.ReadCloser, error) {
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	switch {
	case isHexHash(v.PayloadHash):
		return NewHashCheckingReader(body, v.PayloadHash), nil
	case !IsStreamingMarker(v.PayloadHash):
		return body, nil
	}
	declared := int64(-1)
	if s := r.Header.Get("X-Amz-Decoded-Content-Length"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, chunkErr("x-amz-decoded-content-length %q is not a length", truncate(s))
		}
		declared = n
	}
	d, err := NewVerifiedChunkDecoder(body, declared, r.Header.Get("X-Amz-Trailer"), v)
	if err != nil {
		return nil, err
	}
	return readCloser{d, body}, nil
}

// NewVerifiedChunkDecoder is NewChunkDecoder for the aws-chunked body of a
// request whose seed signature v verified: each chunk's signature (and the
// trailer's) must chain from it, as S3 checks them, so a body changed in
// transit fails at the first changed chunk, before its data is yielded.
// trailer is the request's X-Amz-Trailer.
func NewVerifiedChunkDecoder(body io.Reader, declared int64, trailer string, v *Verified) (*ChunkDecoder, error) {
	if strings.HasSuffix(v.PayloadHash, "-TRAILER") != (trailer != "") {
		return nil, chunkErr("x-amz-content-sha256 %s and x-amz-trailer %q disagree", v.PayloadHash, truncate(trailer))
	}
	d := NewChunkDecoder(body, declared, trailer)
	var date [16]byte
	amzDate := appendAmzDate(date[:0], v.SignedAt)
	region := v.Region
	switch v.PayloadHash {
	case StreamingUnsignedPayloadTrailer:
		return d, nil
	case StreamingPayload, StreamingPayloadTrailer:
		if v.Algorithm != algorithmV4 {
			return nil, chunkErr("%s needs a %s signature", v.PayloadHash, algorithmV4)
		}
		var dd [8]byte
		copy(dd[:], amzDate)
		key := verifyKeys.signingKey(v.Credentials.SecretAccessKey, dd, region, v.Service)
		d.chain = newChunkChain(algorithmV4, key, nil, amzDate, appendScope(nil, amzDate[:8], region, v.Service), v.Signature)
	case StreamingECDSAPayload, StreamingECDSAPayloadTrailer:
		if v.Algorithm != algorithmV4A {
			return nil, chunkErr("%s needs a %s signature", v.PayloadHash, algorithmV4A)
		}
		k, err := v4aKeys.key(v.Credentials)
		if err != nil {
			return nil, err
		}
		d.chain = newChunkChain(algorithmV4A, nil, k, amzDate, appendScope(nil, amzDate[:8], "", v.Service), v.Signature)
	default:
		return nil, chunkErr("unknown payload marker %q", truncate(v.PayloadHash))
	}
	d.chunkHash = sha256.New()
	return d, nil
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }
