package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/sigv4"
)

// callerChunked encodes data the way AWS CLI v2 and current SDKs do:
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer.
func callerChunked(t *testing.T, data []byte, trailer string) []byte {
	t.Helper()
	b, err := io.ReadAll(sigv4.NewUnsignedTrailerBody(bytes.NewReader(data), sigv4.StreamingOptions{DecodedLength: int64(len(data)), Trailer: trailer}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func chunkedRequest(t *testing.T, u string, enc []byte, decoded int, trailer string) *http.Request {
	r := newRequest(t, http.MethodPut, u, bytes.NewReader(enc))
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Content-Sha256", sigv4.StreamingUnsignedPayloadTrailer)
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(decoded))
	r.Header.Set("X-Amz-Trailer", trailer)
	return r
}

func checksum(name string, data []byte) string {
	h := sigv4.ChecksumHash(name)
	h.Write(data)
	return sigv4.ChecksumValue(h)
}

// TestCallerAWSChunkedIsResigned: what reaches the upstream decodes to the
// caller's bytes, never the envelope, with the caller's checksum carried on.
func TestCallerAWSChunkedIsResigned(t *testing.T) {
	data := bytes.Repeat([]byte("signway-"), 30000) // 240,000 bytes: several chunks
	tests := []struct {
		mode        config.PayloadMode
		trailer     string
		wantPayload string // "" means the body's hex SHA-256
		inTrailer   bool   // the checksum travels as a trailer, else as a header
	}{
		{config.PayloadAuto, "x-amz-checksum-crc32", sigv4.StreamingPayloadTrailer, true},
		{config.PayloadStreaming, "x-amz-checksum-crc64nvme", sigv4.StreamingPayloadTrailer, true},
		{config.PayloadSigned, "x-amz-checksum-crc32c", "", false},
		{config.PayloadUnsigned, "x-amz-checksum-sha256", sigv4.StreamingUnsignedPayloadTrailer, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.mode, tt.trailer), func(t *testing.T) {
			f := newFixture(t, "s3", func(r *Route) { r.Payload = tt.mode })
			resp, body := do(t, chunkedRequest(t, f.proxy.URL+"/bucket/obj", callerChunked(t, data, tt.trailer), len(data), tt.trailer))
			got := f.backend.last(t)
			if resp.StatusCode != 200 || got.verifyErr != nil {
				t.Fatalf("status %d %s; verify: %v", resp.StatusCode, body, got.verifyErr)
			}
			if !bytes.Equal(got.body, data) {
				t.Fatalf("upstream decoded %d bytes, want the caller's %d", len(got.body), len(data))
			}
			want := tt.wantPayload
			if want == "" {
				sum := sha256.Sum256(data)
				want = hex.EncodeToString(sum[:])
			}
			if got.verified.PayloadHash != want {
				t.Errorf("payload %s, want %s", got.verified.PayloadHash, want)
			}
			if tt.inTrailer {
				if got.header.Get("X-Amz-Trailer") != tt.trailer {
					t.Errorf("X-Amz-Trailer %q", got.header.Get("X-Amz-Trailer"))
				}
			} else if v := got.header.Get(tt.trailer); v != checksum(tt.trailer, data) {
				t.Errorf("checksum header %s = %q, want %q", tt.trailer, v, checksum(tt.trailer, data))
			}
		})
	}
}

func TestCallerPayloadErrorsAre400(t *testing.T) {
	data := bytes.Repeat([]byte("abcdefgh"), 20000)
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	wrong := strings.Repeat("ab", 32)
	badCRC := callerChunked(t, data, "x-amz-checksum-crc32")
	i := bytes.LastIndex(badCRC, []byte("crc32:")) + len("crc32:")
	badCRC[i] ^= 1
	tests := []struct {
		name, mode, code string
		req              func(u string) *http.Request
	}{
		{"wrong hash, streamed", "auto", "XAmzContentSHA256Mismatch", func(u string) *http.Request {
			r := newRequest(t, http.MethodPut, u, bytes.NewReader(data))
			r.Header.Set("X-Amz-Content-Sha256", wrong)
			return r
		}},
		{"wrong hash, spooled", "signed", "XAmzContentSHA256Mismatch", func(u string) *http.Request {
			r := newRequest(t, http.MethodPut, u, bytes.NewReader(data))
			r.Header.Set("X-Amz-Content-Sha256", wrong)
			return r
		}},
		{"wrong hash, unsigned", "unsigned", "XAmzContentSHA256Mismatch", func(u string) *http.Request {
			r := newRequest(t, http.MethodPut, u, bytes.NewReader(data))
			r.Header.Set("X-Amz-Content-Sha256", wrong)
			return r
		}},
		{"bad trailer checksum, streamed", "auto", "BadDigest", func(u string) *http.Request {
			return chunkedRequest(t, u, badCRC, len(data), "x-amz-checksum-crc32")
		}},
		{"bad trailer checksum, spooled", "signed", "BadDigest", func(u string) *http.Request {
			return chunkedRequest(t, u, badCRC, len(data), "x-amz-checksum-crc32")
		}},
		{"corrupt framing", "auto", "IncompleteBody", func(u string) *http.Request {
			enc := callerChunked(t, data, "x-amz-checksum-crc32")
			enc[bytes.Index(enc, []byte("\r\n"))+2+sigv4.DefaultChunkSize] = 'X'
			return chunkedRequest(t, u, enc, len(data), "x-amz-checksum-crc32")
		}},
		{"unknown trailer", "auto", "InvalidRequest", func(u string) *http.Request {
			return chunkedRequest(t, u, callerChunked(t, data, "x-amz-checksum-crc32"), len(data), "x-amz-meta-foo")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "s3", func(r *Route) { r.Payload = config.PayloadMode(tt.mode) })
			resp, body := do(t, tt.req(f.proxy.URL+"/bucket/obj"))
			if resp.StatusCode != 400 || resp.Header.Get("X-Signway-Error") != tt.code {
				t.Fatalf("status %d code %q %s, want 400 %s", resp.StatusCode, resp.Header.Get("X-Signway-Error"), body, tt.code)
			}
			if f.backend.count() > 0 {
				if got := f.backend.last(t); got.verifyErr == nil {
					t.Fatalf("the upstream received a complete, valid request of %d bytes", len(got.body))
				}
			}
		})
	}
	// The right hash is honoured.
	f := newFixture(t, "s3", nil)
	r := newRequest(t, http.MethodPut, f.proxy.URL+"/bucket/obj", bytes.NewReader(data))
	r.Header.Set("X-Amz-Content-Sha256", good)
	if resp, body := do(t, r); resp.StatusCode != 200 || !bytes.Equal(f.backend.last(t).body, data) {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
}

// TestSigV4AStreaming: the backend checks every ECDSA chunk signature.
func TestSigV4AStreaming(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 150000)
	for _, withTrailer := range []bool{false, true} {
		t.Run(fmt.Sprint("trailer=", withTrailer), func(t *testing.T) {
			f := newFixture(t, "s3", func(r *Route) { r.SigningAlgorithm = "sigv4a"; r.RegionSet = []string{"*"} })
			req := newRequest(t, http.MethodPut, f.proxy.URL+"/bucket/obj", bytes.NewReader(data))
			want := sigv4.StreamingECDSAPayload
			if withTrailer {
				req = chunkedRequest(t, f.proxy.URL+"/bucket/obj", callerChunked(t, data, "x-amz-checksum-crc32"), len(data), "x-amz-checksum-crc32")
				want = sigv4.StreamingECDSAPayloadTrailer
			}
			resp, body := do(t, req)
			got := f.backend.last(t)
			if resp.StatusCode != 200 || got.verifyErr != nil {
				t.Fatalf("status %d %s; verify: %v", resp.StatusCode, body, got.verifyErr)
			}
			if got.verified.Algorithm != "AWS4-ECDSA-P256-SHA256" || got.verified.PayloadHash != want || !bytes.Equal(got.body, data) {
				t.Fatalf("verified %+v, %d bytes", got.verified, len(got.body))
			}
			if strings.Join(got.verified.RegionSet, ",") != "*" {
				t.Errorf("region set %v", got.verified.RegionSet)
			}
		})
	}
	// Header signing with SigV4A for a body that is hashed.
	f := newFixture(t, "s3", func(r *Route) { r.SigningAlgorithm = "sigv4a"; r.RegionSet = []string{"us-east-*", "eu-west-1"} })
	resp, body := do(t, newRequest(t, http.MethodPost, f.proxy.URL+"/bucket/obj?uploads", strings.NewReader("x")))
	if got := f.backend.last(t); resp.StatusCode != 200 || got.verifyErr != nil || got.verified.Algorithm != "AWS4-ECDSA-P256-SHA256" {
		t.Fatalf("status %d %s; %v", resp.StatusCode, body, got.verifyErr)
	}
}
