package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	docCreds = Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	docTime  = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
)

func docRequest(t *testing.T) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPut, "https://s3.amazonaws.com/examplebucket/chunkObject.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	return r
}

var chunkSigRE = regexp.MustCompile(`;chunk-signature=([0-9a-f*]+)\r\n`)

// TestStreamingAWSExample reproduces the worked examples of AWS's
// sigv4-streaming and sigv4-streaming-trailers pages: 65 KiB of 'a' in 64 KiB
// chunks.
func TestStreamingAWSExample(t *testing.T) {
	data := bytes.Repeat([]byte{'a'}, 66560)
	tests := []struct {
		name, trailer string
		policy        *HeaderPolicy
		length        int64
		sigs          []string // seed, then each chunk's, the final chunk's last
	}{
		{"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "", nil, 66824, []string{
			"4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
			"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
			"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
			"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
		}},
		// The trailer example does not sign content-length.
		{"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "x-amz-checksum-crc32c", NewHeaderPolicy(nil, []string{"Content-Length"}), 66946, []string{
			"106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
			"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
			"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
			"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := docRequest(t)
			// AWS's examples send and sign the token; SignStreaming keeps
			// what it is given and adds none of its own.
			r.Header.Set("Content-Encoding", "aws-chunked")
			p := &Params{Service: "s3", Region: "us-east-1", Headers: tt.policy}
			cs, err := NewSigner(nil).SignStreaming(r, docCreds, p, StreamingOptions{DecodedLength: int64(len(data)), Trailer: tt.trailer}, docTime)
			if err != nil {
				t.Fatal(err)
			}
			if cs.Seed != tt.sigs[0] {
				t.Fatalf("seed signature %s, want %s\n%s", cs.Seed, tt.sigs[0], r.Header.Get("Authorization"))
			}
			if r.ContentLength != tt.length || r.Header.Get("X-Amz-Content-Sha256") != tt.name ||
				r.Header.Get("Content-Encoding") != "aws-chunked" || r.Header.Get("X-Amz-Decoded-Content-Length") != "66560" ||
				!strings.Contains(r.Header.Get("Authorization"), "content-encoding;") {
				t.Fatalf("headers %v, length %d", r.Header, r.ContentLength)
			}
			body, err := io.ReadAll(cs.Body(bytes.NewReader(data)))
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(body)) != tt.length {
				t.Errorf("encoded %d bytes, Content-Length says %d", len(body), tt.length)
			}
			var got []string
			for _, m := range chunkSigRE.FindAllStringSubmatch(string(body), -1) {
				got = append(got, m[1])
			}
			if strings.Join(got, " ") != strings.Join(tt.sigs[1:], " ") {
				t.Errorf("chunk signatures\n%q\nwant\n%q", got, tt.sigs[1:])
			}
			if tt.trailer != "" {
				// The trailer's string to sign ends with this hash in the example.
				line := regexp.MustCompile(`x-amz-checksum-crc32c:(\S+)\r\n`).FindSubmatch(body)
				if line == nil {
					t.Fatalf("no trailer in\n%q", body[len(body)-300:])
				}
				sum := sha256.Sum256([]byte("x-amz-checksum-crc32c:" + string(line[1]) + "\n"))
				if h := hex.EncodeToString(sum[:]); h != "1e376db7e1a34a8ef1c4bcee131a2d60a1cb62503747488624e10995f448d774" {
					t.Errorf("trailer hash %s (value %s)", h, line[1])
				}
			}
			// The verifier accepts what the signer produced.
			r.Body = io.NopCloser(bytes.NewReader(body))
			if got := verifyBody(t, r, docTime); !bytes.Equal(got, data) {
				t.Fatal("decoded body differs")
			}
		})
	}
}

func verifyBody(t *testing.T, r *http.Request, now time.Time) []byte {
	t.Helper()
	v, err := Verify(r, VerifyOptions{Now: now, Lookup: func(string) (Credentials, error) { return docCreds, nil }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := VerifiedBody(r, v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("verifying the body: %v", err)
	}
	return out
}

func encode(t *testing.T, v4a bool, trailer string, data []byte, chunk int) (*http.Request, []byte) {
	t.Helper()
	r := docRequest(t)
	o := StreamingOptions{DecodedLength: int64(len(data)), Trailer: trailer, ChunkSize: chunk}
	p := &Params{Service: "s3", Region: "us-east-1"}
	if v4a {
		p.Algorithm, p.RegionSet = SigV4A, []string{"*"}
	}
	cs, err := NewSigner(nil).SignStreaming(r, docCreds, p, o, docTime)
	if err != nil {
		t.Fatal(err)
	}
	if ce, ok := r.Header["Content-Encoding"]; ok {
		t.Fatalf("Content-Encoding %q added: S3 needs none, and some servers store it", ce)
	}
	body, err := io.ReadAll(cs.Body(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(body)) != r.ContentLength {
		t.Fatalf("encoded %d bytes, Content-Length %d", len(body), r.ContentLength)
	}
	return r, body
}

func TestStreamingRoundTrip(t *testing.T) {
	for _, v4a := range []bool{false, true} {
		for _, trailer := range []string{"", "x-amz-checksum-crc32", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha256"} {
			for _, size := range []int{0, 1, MinChunkSize, MinChunkSize + 1, 3*MinChunkSize + 17} {
				t.Run(fmt.Sprintf("v4a=%v/%s/%d", v4a, trailer, size), func(t *testing.T) {
					data := make([]byte, size)
					for i := range data {
						data[i] = byte(i * 7)
					}
					r, body := encode(t, v4a, trailer, data, MinChunkSize)
					r.Body = io.NopCloser(bytes.NewReader(body))
					if got := verifyBody(t, r, docTime); !bytes.Equal(got, data) {
						t.Fatal("decoded body differs")
					}
				})
			}
		}
	}
}

func TestStreamingTamperedIsRejected(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 2*MinChunkSize/16+5)
	for _, v4a := range []bool{false, true} {
		r, body := encode(t, v4a, "x-amz-checksum-crc32", data, MinChunkSize)
		tests := []struct {
			name string
			mut  func([]byte) []byte
			want error
		}{
			{"data byte in chunk 2", func(b []byte) []byte { b[bytes.Index(b, []byte("\r\n"))+2+MinChunkSize+200] ^= 1; return b }, ErrChunkSignature},
			{"chunks swapped", func(b []byte) []byte {
				i := bytes.Index(b, []byte("2000;"))
				j := bytes.Index(b[i+5:], []byte("2000;")) + i + 5
				n := j - i
				out := append([]byte{}, b[j:j+n]...)
				return append(append(out, b[i:j]...), b[j+n:]...)
			}, ErrChunkSignature},
			{"trailer value", func(b []byte) []byte {
				i := bytes.Index(b, []byte("x-amz-checksum-crc32:")) + len("x-amz-checksum-crc32:")
				b[i] ^= 2
				return b
			}, nil},
			{"truncated", func(b []byte) []byte { return b[:len(b)-40] }, nil},
			{"final chunk dropped", func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("0;chunk"))] }, nil},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("v4a=%v/%s", v4a, tt.name), func(t *testing.T) {
				r.Body = io.NopCloser(bytes.NewReader(tt.mut(bytes.Clone(body))))
				v, err := Verify(r, VerifyOptions{Now: docTime, Lookup: func(string) (Credentials, error) { return docCreds, nil }})
				if err != nil {
					t.Fatal(err)
				}
				b, err := VerifiedBody(r, v)
				if err != nil {
					t.Fatal(err)
				}
				_, err = io.ReadAll(b)
				var ce *ChunkError
				if !errors.As(err, &ce) {
					t.Fatalf("want a *ChunkError, got %v", err)
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("want %v, got %v", tt.want, err)
				}
			})
		}
	}
}

func TestEncodedLengthMatchesEncoding(t *testing.T) {
	for _, trailer := range []string{"", "x-amz-checksum-crc32c", "x-amz-checksum-sha1"} {
		for _, size := range []int{0, 5, MinChunkSize - 1, MinChunkSize, 5*MinChunkSize + 3} {
			data := make([]byte, size)
			for _, marker := range []string{StreamingPayload, StreamingECDSAPayload, StreamingUnsignedPayloadTrailer} {
				if marker == StreamingUnsignedPayloadTrailer && trailer == "" {
					continue
				}
				o := StreamingOptions{DecodedLength: int64(size), ChunkSize: MinChunkSize, Trailer: trailer}
				var body io.Reader
				if marker == StreamingUnsignedPayloadTrailer {
					body = NewUnsignedTrailerBody(bytes.NewReader(data), o)
				} else {
					r := docRequest(t)
					p := &Params{Service: "s3", Region: "us-east-1"}
					if marker == StreamingECDSAPayload {
						p.Algorithm, p.RegionSet = SigV4A, []string{"us-east-*"}
					}
					cs, err := NewSigner(nil).SignStreaming(r, docCreds, p, o, docTime)
					if err != nil {
						t.Fatal(err)
					}
					body = cs.Body(bytes.NewReader(data))
					marker = r.Header.Get("X-Amz-Content-Sha256")
				}
				b, err := io.ReadAll(body)
				if err != nil {
					t.Fatal(err)
				}
				tl := 0
				if trailer != "" {
					tl = ChecksumTrailerLen(trailer)
				}
				if want := EncodedLength(marker, int64(size), MinChunkSize, tl); int64(len(b)) != want {
					t.Errorf("%s %s %d: encoded %d, EncodedLength %d", marker, trailer, size, len(b), want)
				}
			}
		}
	}
}

func TestChunkedBodyLengthErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		body io.Reader
	}{
		{"short", bytes.NewReader(make([]byte, 99))},
		{"long", bytes.NewReader(make([]byte, 101))},
		{"failing", io.MultiReader(bytes.NewReader(make([]byte, 100)), errReader{errors.New("boom")})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := docRequest(t)
			cs, err := NewSigner(nil).SignStreaming(r, docCreds, &Params{Service: "s3", Region: "us-east-1"}, StreamingOptions{DecodedLength: 100}, docTime)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(cs.Body(tt.body))
			if err == nil {
				t.Fatal("no error")
			}
			if bytes.Contains(b, []byte("0;chunk-signature")) {
				t.Fatal("the final chunk was sent despite the error")
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestDecodeCallerBodies decodes what SDKs send: botocore's unsigned trailer
// format and signed chunks whose signatures signway cannot check.
func TestDecodeCallerBodies(t *testing.T) {
	tests := []struct {
		name, body, trailer, want, checksum string
		declared                            int64
		bad                                 bool
	}{
		{"botocore unsigned trailer", "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n", "x-amz-checksum-crc32", "hello world", "DUoRhQ==", 11, false},
		{"signed, unchecked", "5;chunk-signature=" + strings.Repeat("a", 64) + "\r\nhello\r\n0;chunk-signature=" + strings.Repeat("b", 64) + "\r\n\r\n", "", "hello", "", 5, false},
		{"unknown length", "3\r\nabc\r\n0\r\n\r\n", "", "abc", "", -1, false},
		{"bad checksum", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "x-amz-checksum-crc32", "", "", 5, true},
		{"missing trailer", "5\r\nhello\r\n0\r\n\r\n", "x-amz-checksum-crc32", "", "", 5, true},
		{"length mismatch", "5\r\nhello\r\n0\r\n\r\n", "", "", "", 6, true},
		{"size larger than data", "9\r\nhello\r\n0\r\n\r\n", "", "", "", -1, true},
		{"no CRLF after data", "5\r\nhelloX0\r\n\r\n", "", "", "", -1, true},
		{"bad hex", "zz\r\nhello\r\n", "", "", "", -1, true},
		{"LF only", "5\nhello\n0\n\n", "", "", "", -1, true},
		{"garbage after end", "0\r\n\r\nextra", "", "", "", -1, true},
		{"empty", "", "", "", "", -1, true},
		{"unknown extension", "5;foo=bar\r\nhello\r\n0\r\n\r\n", "", "", "", -1, true},
		{"huge size", "7fffffffffffffff\r\nhello", "", "", "", 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewChunkDecoder(strings.NewReader(tt.body), tt.declared, tt.trailer)
			got, err := io.ReadAll(d)
			if tt.bad {
				var ce *ChunkError
				if !errors.As(err, &ce) {
					t.Fatalf("want a *ChunkError, got %v (%q)", err, got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
			if tt.checksum != "" && d.Trailers().Get(tt.trailer) != tt.checksum {
				t.Errorf("trailers %v", d.Trailers())
			}
		})
	}
}

// TestDecodeByteAtATime feeds the decoder one byte per read, as a slow
// client would.
func TestDecodeByteAtATime(t *testing.T) {
	data := bytes.Repeat([]byte("xyz"), 5000)
	enc, err := io.ReadAll(NewUnsignedTrailerBody(bytes.NewReader(data), StreamingOptions{DecodedLength: int64(len(data)), ChunkSize: MinChunkSize, Trailer: "x-amz-checksum-crc32c"}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(NewChunkDecoder(oneByteReader{bytes.NewReader(enc)}, int64(len(data)), "x-amz-checksum-crc32c"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%v, %d bytes", err, len(got))
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func FuzzChunkDecoder(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"), int64(5), "x-amz-checksum-crc32")
	f.Add([]byte("5;chunk-signature="+strings.Repeat("a", 64)+"\r\nhello\r\n0;chunk-signature="+strings.Repeat("b", 64)+"\r\n\r\n"), int64(-1), "")
	f.Add([]byte("0\r\n\r\n"), int64(0), "")
	f.Fuzz(func(t *testing.T, body []byte, declared int64, trailer string) {
		d := NewChunkDecoder(bytes.NewReader(body), declared, trailer)
		n, err := io.Copy(io.Discard, d)
		if n > int64(len(body)) {
			t.Fatalf("decoded %d bytes from %d", n, len(body))
		}
		if err != nil {
			var ce *ChunkError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a *ChunkError: %v", err)
			}
		} else if declared >= 0 && n != declared {
			t.Fatalf("decoded %d bytes, declared %d", n, declared)
		}
	})
}

func TestChecksumTrailerLen(t *testing.T) {
	for name, want := range map[string]int{"x-amz-checksum-crc32": 29, "x-amz-checksum-crc64nvme": 37, "x-amz-checksum-sha256": 66, "x-amz-meta-x": -1} {
		if got := ChecksumTrailerLen(name); got != want {
			t.Errorf("%s: %d, want %d", name, got, want)
		}
	}
	_ = strconv.Itoa
}
