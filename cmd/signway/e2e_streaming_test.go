package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
	"github.com/signway/signway/internal/testenv"
)

// These tests check signed uploads against versitygw, which verifies every
// chunk signature of an aws-chunked body (a tampered chunk gets 403).

// put sends a PUT of size bytes from body with a known Content-Length.
func (e *s3Env) put(t *testing.T, key string, body io.Reader, size int64, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, e.proxyURL+"/"+e.bucket+"/"+key, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// storedSHA256 reads key back through signway and hashes it.
func (e *s3Env) storedSHA256(t *testing.T, key string) ([32]byte, int64) {
	t.Helper()
	resp, err := http.Get(e.proxyURL + "/" + e.bucket + "/" + key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", key, resp.StatusCode)
	}
	return sha256Of(t, resp.Body), resp.ContentLength
}

func TestE2EStreamingLargePut(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	e := newS3Env(t, "--payload", "streaming")
	if status, body := e.put(t, "huge.bin", patternReader(size, 7), size, nil); status != 200 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	got, n := e.storedSHA256(t, "huge.bin")
	if want := sha256Of(t, patternReader(size, 7)); got != want || n != size {
		t.Fatalf("stored %d bytes with another SHA-256 than the %d sent", n, size)
	}
}

// TestE2EStreamingModes: auto streams object uploads (multipart parts too) and
// what is stored is the caller's bytes.
func TestE2EStreamingModes(t *testing.T) {
	for _, mode := range []string{"auto", "streaming", "signed", "unsigned"} {
		t.Run(mode, func(t *testing.T) {
			e := newS3Env(t, "--payload", mode)
			data, _ := io.ReadAll(patternReader(300<<10, 9))
			if status, body := e.put(t, "dir/obj.bin", bytes.NewReader(data), int64(len(data)), nil); status != 200 {
				t.Fatalf("PUT: %d %s", status, body)
			}
			if status, got := e.s3.Do(t, http.MethodGet, "/e2e/dir/obj.bin", nil); status != 200 || !bytes.Equal(got, data) {
				t.Fatalf("stored: %d, %d bytes", status, len(got))
			}
		})
	}
}

// TestE2ECallerAWSChunked sends what AWS CLI v2 and the SDKs send over TLS:
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC trailer.
func TestE2ECallerAWSChunked(t *testing.T) {
	e := newS3Env(t)
	data, _ := io.ReadAll(patternReader(200<<10, 4))
	enc, err := io.ReadAll(sigv4.NewUnsignedTrailerBody(bytes.NewReader(data), sigv4.StreamingOptions{DecodedLength: int64(len(data)), Trailer: "x-amz-checksum-crc32"}))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Content-Encoding": {"aws-chunked"}, "X-Amz-Content-Sha256": {sigv4.StreamingUnsignedPayloadTrailer},
		"X-Amz-Decoded-Content-Length": {strconv.Itoa(len(data))}, "X-Amz-Trailer": {"x-amz-checksum-crc32"}}
	if status, body := e.put(t, "chunked.bin", bytes.NewReader(enc), int64(len(enc)), h); status != 200 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	if status, got := e.s3.Do(t, http.MethodGet, "/e2e/chunked.bin", nil); status != 200 || !bytes.Equal(got, data) {
		t.Fatalf("stored: %d, %d bytes, want the caller's %d", status, len(got), len(data))
	}
	// A corrupted chunk (its data no longer matches the CRC) is refused and
	// nothing is stored.
	bad := bytes.Clone(enc)
	bad[100] ^= 0xff
	if status, body := e.put(t, "corrupt.bin", bytes.NewReader(bad), int64(len(bad)), h); status != 400 || !strings.Contains(body, "BadDigest") {
		t.Fatalf("corrupted chunk: %d %s, want 400 BadDigest", status, body)
	}
	if status, _ := e.s3.Do(t, http.MethodGet, "/e2e/corrupt.bin", nil); status != 404 {
		t.Fatalf("the corrupted upload was stored: %d", status)
	}
	// A truncated envelope (the HTTP body is complete, the chunks are not).
	short := enc[:len(enc)-500]
	if status, body := e.put(t, "short.bin", bytes.NewReader(short), int64(len(short)), h); status != 400 || !strings.Contains(body, "IncompleteBody") {
		t.Fatalf("truncated envelope: %d %s, want 400 IncompleteBody", status, body)
	}
	if status, _ := e.s3.Do(t, http.MethodGet, "/e2e/short.bin", nil); status != 404 {
		t.Fatalf("the truncated upload was stored: %d", status)
	}
}

func TestE2EWrongContentSHA256IsRefused(t *testing.T) {
	for _, mode := range []string{"auto", "signed", "unsigned"} {
		t.Run(mode, func(t *testing.T) {
			e := newS3Env(t, "--payload", mode)
			data, _ := io.ReadAll(patternReader(3<<20, 5))
			h := http.Header{"X-Amz-Content-Sha256": {strings.Repeat("0", 64)}}
			if status, body := e.put(t, "wrong.bin", bytes.NewReader(data), int64(len(data)), h); status != 400 || !strings.Contains(body, "XAmzContentSHA256Mismatch") {
				t.Fatalf("PUT: %d %s, want 400 XAmzContentSHA256Mismatch", status, body)
			}
			if status, _ := e.s3.Do(t, http.MethodGet, "/e2e/wrong.bin", nil); status != 404 {
				t.Fatalf("the object was stored: %d", status)
			}
			sum := sha256.Sum256(data)
			h.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			if status, body := e.put(t, "right.bin", bytes.NewReader(data), int64(len(data)), h); status != 200 {
				t.Fatalf("PUT with the right hash: %d %s", status, body)
			}
		})
	}
}

// TestE2EAbortedUploadsLeaveNothing: a truncated body and a client that goes
// away mid-upload leave no object, no temporary file and no goroutine.
func TestE2EAbortedUploadsLeaveNothing(t *testing.T) {
	for _, mode := range []string{"auto", "signed"} {
		t.Run(mode, func(t *testing.T) {
			spool := t.TempDir()
			t.Setenv("TMPDIR", spool) // where signway's spool files go
			e := newS3Env(t, "--payload", mode)
			u, _ := url.Parse(e.proxyURL)
			// Warm up: the connections a good request leaves idle are the baseline.
			if status, body := e.put(t, "ok.bin", patternReader(2<<20, 1), 2<<20, nil); status != 200 {
				t.Fatalf("PUT: %d %s", status, body)
			}
			http.DefaultClient.CloseIdleConnections()
			base := settledGoroutines(-1)
			for _, tt := range []struct {
				name      string
				halfClose bool
			}{{"truncated", true}, {"disconnect", false}} {
				c, err := net.Dial("tcp", u.Host)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(c, "PUT /e2e/%s.bin HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", tt.name, u.Host, 8<<20)
				io.Copy(c, patternReader(3<<20, 2))
				if tt.halfClose {
					c.(*net.TCPConn).CloseWrite()
					c.SetReadDeadline(time.Now().Add(20 * time.Second))
					resp, _ := io.ReadAll(c)
					// net/http takes the half-close for a caller gone away
					// (499, logged, never sent: the connection is dropped);
					// either way the upload must not complete.
					if len(resp) != 0 && !bytes.HasPrefix(resp, []byte("HTTP/1.1 400")) {
						t.Errorf("truncated body: %.200q, want a 400 or no answer", resp)
					}
				}
				c.Close()
				if !tt.halfClose {
					// Wait until signway has given up on the upload, not
					// for a while: only then is "nothing stored" an answer.
					e.waitIdle(t)
				}
				if status, _ := e.s3.Do(t, http.MethodGet, "/e2e/"+tt.name+".bin", nil); status != 404 {
					t.Errorf("%s: an object was stored (%d)", tt.name, status)
				}
			}
			if n := settledGoroutines(base); n > base {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines after the aborted uploads, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
			}
			if entries, _ := os.ReadDir(spool); len(entries) != 0 {
				t.Fatalf("%d files left in the spool directory", len(entries))
			}
		})
	}
}

// waitIdle waits until signway has no request in flight.
func (e *s3Env) waitIdle(t *testing.T) {
	t.Helper()
	// No keep-alive: an idle connection would count as goroutines left.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, m := get(t, c, e.utilURL+"/metrics"); strings.Contains(m, "\nsignway_requests_in_flight 0\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a request is still in flight after 20s")
		}
	}
}

// settledGoroutines waits up to 10s for the goroutine count to reach want
// (or, with want < 0, to stop changing) and returns it.
func settledGoroutines(want int) int {
	n, last := runtime.NumGoroutine(), -1
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if want >= 0 && n <= want || want < 0 && n == last {
			return n
		}
		last = n
		time.Sleep(100 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// TestE2EAWSCLIUploadsOverTLS: the CLIs send aws-chunked bodies with CRC
// trailers over TLS (v1 by default, v2 when asked for a checksum); signway
// decodes and re-signs them, and S3 stores the files' bytes, multipart
// included.
func TestE2EAWSCLIUploadsOverTLS(t *testing.T) {
	for _, v := range []struct {
		name string
		find func(testing.TB) string
		// s3api put-object with a checksum: CLI v2 2.9 sends aws-chunked
		// only when asked for one; v1 does by default.
		putObject []string
	}{{"v1", testenv.AWSCLI, nil}, {"v2", testenv.AWSCLIv2, []string{"--checksum-algorithm", "CRC32"}}} {
		t.Run(v.name, func(t *testing.T) {
			aws := v.find(t)
			dir := t.TempDir()
			cert, key := testenv.WriteCert(t, dir, 1)
			e := newS3Env(t, "--cert", cert, "--key", key)
			cli := func(args ...string) {
				t.Helper()
				args = append(args, "--endpoint-url", e.proxyURL, "--ca-bundle", cert, "--no-sign-request", "--region", "us-east-1")
				cmd := exec.Command(aws, args...)
				cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			stored := func(key string, data []byte) {
				t.Helper()
				if status, got := e.s3.Do(t, http.MethodGet, "/e2e/"+escapeKey(key), nil); status != 200 || !bytes.Equal(got, data) {
					t.Fatalf("%s stored: %d, %d bytes, want %d", key, status, len(got), len(data))
				}
			}
			// Above the CLI's 8 MiB threshold: a multipart upload.
			files := map[string][]byte{"big.bin": mustRead(patternReader(12<<20, 3)), "small file+1.txt": []byte("hello from the aws cli\n")}
			for name, data := range files {
				src := filepath.Join(dir, name)
				if err := os.WriteFile(src, data, 0o600); err != nil {
					t.Fatal(err)
				}
				cli("s3", "cp", src, "s3://e2e/cli/"+name)
				stored("cli/"+name, data)
				cli(append([]string{"s3api", "put-object", "--bucket", "e2e", "--key", "api/" + name, "--body", src}, v.putObject...)...)
				stored("api/"+name, data)
			}
		})
	}
}

func mustRead(r io.Reader) []byte {
	b, err := io.ReadAll(r)
	if err != nil {
		panic(err)
	}
	return b
}

func TestSigningAlgorithmFlags(t *testing.T) {
	cfg, err := flagsConfig([]string{"-f", "https://x.mrap.accesspoint.s3-global.amazonaws.com", "--signing-algorithm", "sigv4a",
		"--region-set", "us-east-*, eu-west-1", "--payload", "streaming"})
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Routes[0].Settings; s.Signing.Algorithm != "sigv4a" || strings.Join(s.Signing.RegionSet, "|") != "us-east-*|eu-west-1" || s.Payload != "streaming" {
		t.Fatalf("settings %+v", s)
	}
	for _, args := range [][]string{{"--signing-algorithm", "v5"}, {"--region-set", "*"}, {"--signing-algorithm", "sigv4a", "--region-set", "a,,b"}} {
		if _, err := flagsConfig(append([]string{"-f", "https://h.example", "-s", "es", "-r", "us-east-1"}, args...)); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
