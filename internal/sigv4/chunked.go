package sigv4

import (
	"crypto/ecdsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// S3's streaming uploads (aws-chunked) sign the body chunk by chunk: the
// request headers are signed with a STREAMING-* marker as the payload hash
// (the seed signature), then each chunk carries a signature over the previous
// signature and the chunk's SHA-256, so the body is signed without being held
// or read twice. See
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
// sigv4-streaming-trailers.html.

// x-amz-content-sha256 markers of aws-chunked bodies.
const (
	StreamingPayload                = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingECDSAPayload           = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	StreamingECDSAPayloadTrailer    = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// DefaultChunkSize is what the SDKs use; S3 wants every chunk but the last to
// be at least MinChunkSize.
const (
	DefaultChunkSize = 64 << 10
	MinChunkSize     = 8 << 10
)

const (
	chunkSigKey      = ";chunk-signature="
	trailerSigHeader = "x-amz-trailer-signature"
	// v4aChunkSigLen is the hex length a SigV4A chunk signature is padded to
	// with '*' (a DER P-256 signature is at most 72 bytes), as aws-c-auth does,
	// so the encoded length is known before the signatures are.
	v4aChunkSigLen = 144
)

// IsStreamingMarker reports an aws-chunked x-amz-content-sha256 value.
func IsStreamingMarker(s string) bool { return strings.HasPrefix(s, "STREAMING-") }

// streamingMarker returns the marker for a scheme with or without a trailer.
func streamingMarker(v4a, trailer bool) string {
	switch {
	case v4a && trailer:
		return StreamingECDSAPayloadTrailer
	case v4a:
		return StreamingECDSAPayload
	case trailer:
		return StreamingPayloadTrailer
	}
	return StreamingPayload
}

// ChecksumHash returns a hash for a trailing checksum header such as
// x-amz-checksum-crc32 (crc32, crc32c, crc64nvme, sha1, sha256), or nil when
// the algorithm is not one of those.
func ChecksumHash(name string) hash.Hash {
	switch strings.ToLower(name) {
	case "x-amz-checksum-crc32":
		return crc32.NewIEEE()
	case "x-amz-checksum-crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "x-amz-checksum-crc64nvme":
		return crc64.New(crc64NVME)
	case "x-amz-checksum-sha1":
		return sha1.New()
	case "x-amz-checksum-sha256":
		return sha256.New()
	}
	return nil
}

// crc64NVME is CRC-64/NVME's polynomial 0xad93d23594c93659, bit-reversed as
// hash/crc64 wants it.
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// ChecksumValue is the trailer/header form of a checksum: base64 of the sum.
func ChecksumValue(h hash.Hash) string { return base64.StdEncoding.EncodeToString(h.Sum(nil)) }

// EncodedLength returns the Content-Length of an aws-chunked body carrying
// decoded bytes in chunks of chunkSize, for the given marker, with one
// trailer line "name:value" of trailerLen bytes (0 for none). It is -1 for a
// marker it does not know.
func EncodedLength(marker string, decoded int64, chunkSize int, trailerLen int) int64 {
	var sigLen int64
	switch marker {
	case StreamingPayload, StreamingPayloadTrailer:
		sigLen = 64
	case StreamingECDSAPayload, StreamingECDSAPayloadTrailer:
		sigLen = v4aChunkSigLen
	case StreamingUnsignedPayloadTrailer:
	default:
		return -1
	}
	if chunkSize <= 0 {
		chunkSize = DefaultChunkSize
	}
	sigPart := int64(0)
	if sigLen > 0 {
		sigPart = int64(len(chunkSigKey)) + sigLen
	}
	frame := func(n int64) int64 { return int64(len(strconv.FormatInt(n, 16))) + sigPart + 2 + n + 2 }
	cs := int64(chunkSize)
	full := decoded / cs
	total := full * frame(cs)
	if rest := decoded % cs; rest > 0 {
		total += frame(rest)
	}
	total += 1 + sigPart + 2 // "0;chunk-signature=...\r\n"
	if trailerLen > 0 {
		total += int64(trailerLen) + 2
		if sigLen > 0 {
			total += int64(len(trailerSigHeader)) + 1 + sigLen + 2
		}
	}
	return total + 2 // the empty line that ends the body
}

// ChecksumTrailerLen is the length of "name:value" for a checksum trailer
// whose value has the fixed length of its algorithm, or -1.
func ChecksumTrailerLen(name string) int {
	h := ChecksumHash(name)
	if h == nil {
		return -1
	}
	return len(name) + 1 + base64.StdEncoding.EncodedLen(h.Size())
}

// chunkChain computes the chained chunk and trailer signatures of one
// request; the signer and the verifier share it.
type chunkChain struct {
	key    *signingKey       // SigV4
	ecdsa  *ecdsa.PrivateKey // SigV4A
	prefix []byte            // "DATE\nSCOPE\n"
	alg    string            // AWS4-HMAC-SHA256 or AWS4-ECDSA-P256-SHA256
	prev   []byte            // previous signature, hex, unpadded
	h      hash.Hash
	sts    []byte
	sig    []byte
}

func newChunkChain(alg string, key *signingKey, ek *ecdsa.PrivateKey, amzDate []byte, scope []byte, seed string) *chunkChain {
	c := &chunkChain{key: key, ecdsa: ek, alg: alg, h: sha256.New(), sts: make([]byte, 0, 320), sig: make([]byte, 0, v4aChunkSigLen)}
	c.prefix = append(append(append(append(c.prefix, amzDate...), '\n'), scope...), '\n')
	c.prev = append(c.prev, seed...)
	return c
}

// stringToSign builds ALG-KIND\nDATE\nSCOPE\nPREV\n + tail.
func (c *chunkChain) stringToSign(kind string, tail ...[]byte) []byte {
	b := append(c.sts[:0], c.alg...)
	b = append(b, '-')
	b = append(b, kind...)
	b = append(b, '\n')
	b = append(b, c.prefix...)
	b = append(b, c.prev...)
	for _, t := range tail {
		b = append(b, '\n')
		b = append(b, t...)
	}
	c.sts = b
	return b
}

func chunkTail(sum *[32]byte) [2][]byte {
	var hx [64]byte
	hex.Encode(hx[:], sum[:])
	return [2][]byte{[]byte(EmptyPayloadHash), hx[:]}
}

func trailerTail(trailers []byte) []byte {
	sum := sha256.Sum256(trailers)
	return []byte(hex.EncodeToString(sum[:]))
}

// sign signs the string to sign and advances the chain. It returns the
// signature in its wire form (SigV4A padded), valid until the next call.
func (c *chunkChain) sign(sts []byte) ([]byte, error) {
	if c.ecdsa != nil {
		s, err := signECDSA(c.ecdsa, sts)
		if err != nil {
			return nil, fmt.Errorf("signing a chunk: %w", err)
		}
		c.prev = append(c.prev[:0], s...)
		c.sig = append(c.sig[:0], s...)
		for len(c.sig) < v4aChunkSigLen {
			c.sig = append(c.sig, '*')
		}
		return c.sig, nil
	}
	sum := c.key.mac(c.h, sts, c.sig[:0])
	c.prev = hex.AppendEncode(c.prev[:0], sum[:])
	c.sig = append(c.sig[:0], c.prev...)
	return c.sig, nil
}

func (c *chunkChain) signChunk(sum *[32]byte) ([]byte, error) {
	t := chunkTail(sum)
	return c.sign(c.stringToSign("PAYLOAD", t[0], t[1]))
}

func (c *chunkChain) signTrailer(trailers []byte) ([]byte, error) {
	return c.sign(c.stringToSign("TRAILER", trailerTail(trailers)))
}

// verify checks got (wire form) against the string to sign and advances the
// chain.
func (c *chunkChain) verify(sts []byte, got []byte) bool {
	if c.ecdsa != nil {
		s := strings.TrimRight(string(got), "*")
		der, err := hex.DecodeString(s)
		if err != nil {
			return false
		}
		digest := sha256.Sum256(sts)
		if !ecdsa.VerifyASN1(&c.ecdsa.PublicKey, digest[:], der) {
			return false
		}
		c.prev = append(c.prev[:0], s...)
		return true
	}
	sum := c.key.mac(c.h, sts, c.sig[:0])
	var want [64]byte
	hex.Encode(want[:], sum[:])
	if subtle.ConstantTimeCompare(want[:], got) != 1 {
		return false
	}
	c.prev = append(c.prev[:0], want[:]...)
	return true
}

// StreamingOptions describe an aws-chunked body to sign.
type StreamingOptions struct {
	// DecodedLength is the exact number of body bytes; the body must yield
	// exactly that many.
	DecodedLength int64
	// ChunkSize defaults to DefaultChunkSize; at least MinChunkSize.
	ChunkSize int
	// Trailer names a trailing checksum header (x-amz-checksum-crc32, ...),
	// "" for none. Its value is computed from the body unless TrailerValue
	// is set, which is then called once the body has been read to its end.
	Trailer      string
	TrailerValue func() (string, error)
}

// ChunkSigner produces the aws-chunked body of one request signed with
// SignStreaming.
type ChunkSigner struct {
	chain *chunkChain
	opts  StreamingOptions
	// Seed is the signature of the request headers that the chunk
	// signatures chain from.
	Seed string
}

// SignStreaming signs r for an aws-chunked body: it sets
// X-Amz-Decoded-Content-Length, X-Amz-Trailer,
// the encoded Content-Length and the STREAMING-* marker, signs the headers
// (the seed signature) and returns the signer whose Body wraps the payload.
// The chunks are signed with p's algorithm (ECDSA for SigV4A).
// p.PayloadHash is ignored.
func (s *Signer) SignStreaming(r *http.Request, c Credentials, p *Params, o StreamingOptions, now time.Time) (*ChunkSigner, error) {
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.ChunkSize < MinChunkSize || o.ChunkSize > 16<<20 {
		return nil, fmt.Errorf("streaming signature: chunk size %d must be between %d and %d", o.ChunkSize, MinChunkSize, 16<<20)
	}
	if o.DecodedLength < 0 {
		return nil, errors.New("streaming signature: the decoded length must be known")
	}
	trailerLen := 0
	if o.Trailer != "" {
		if trailerLen = ChecksumTrailerLen(o.Trailer); trailerLen < 0 {
			return nil, fmt.Errorf("streaming signature: trailer %q is not a supported checksum (crc32, crc32c, crc64nvme, sha1, sha256)", o.Trailer)
		}
		o.Trailer = strings.ToLower(o.Trailer)
	}
	v4a := p.Algorithm == SigV4A
	sc, err := p.scheme(c)
	if err != nil {
		return nil, err
	}
	marker := streamingMarker(v4a, o.Trailer != "")
	pp := *p
	pp.PayloadHash, pp.ContentSHA256Header = marker, true
	h := r.Header
	if h == nil {
		h = http.Header{}
		r.Header = h
	}
	// Content-Encoding is left as it is: S3 knows the framing from the
	// STREAMING-* marker and x-amz-decoded-content-length (AWS support's
	// advice; the .NET SDK and minio-go send no aws-chunked token), and a
	// server that stores the header as it came would hand the object back
	// as "aws-chunked". Set it before signing for a server that wants it.
	h.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(o.DecodedLength, 10))
	h.Del("X-Amz-Trailer")
	if o.Trailer != "" {
		h.Set("X-Amz-Trailer", o.Trailer)
	}
	r.ContentLength = EncodedLength(marker, o.DecodedLength, o.ChunkSize, trailerLen)
	r.TransferEncoding = nil

	w := getWork()
	defer w.release()
	seed, err := s.signHeaders(w, r, c, &pp, &sc, now)
	if err != nil {
		return nil, err
	}
	var date [16]byte
	amzDate := appendAmzDate(date[:0], now)
	scope := appendScope(nil, amzDate[:8], sc.region, p.Service)
	var key *signingKey
	if !v4a {
		var d [8]byte
		copy(d[:], amzDate)
		key = s.keys.signingKey(c.SecretAccessKey, d, sc.region, p.Service)
	}
	return &ChunkSigner{chain: newChunkChain(sc.algorithm, key, sc.key, amzDate, scope, seed), opts: o, Seed: seed}, nil
}

// Body returns body encoded as aws-chunked with each chunk signed. The
// returned reader fails, and never sends the final chunk, when body yields
// fewer or more than the decoded length or fails itself: the upstream then
// sees an incomplete upload and stores nothing.
func (cs *ChunkSigner) Body(body io.Reader) io.ReadCloser {
	return newChunkedReader(body, cs.chain, cs.opts)
}

// NewUnsignedTrailerBody encodes body as STREAMING-UNSIGNED-PAYLOAD-TRAILER
// with the checksum trailer named in o.Trailer; EncodedLength gives its
// length.
func NewUnsignedTrailerBody(body io.Reader, o StreamingOptions) io.ReadCloser {
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	return newChunkedReader(body, nil, o)
}
