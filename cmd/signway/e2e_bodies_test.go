package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
	"github.com/signway/signway/internal/testenv"
)

// These tests hold signway to what it promises about bodies whatever the
// caller does: nothing shorter than its Content-Length is ever stored, the
// caller's hash is checked even for an empty body, empty aws-chunked uploads
// carry their checksum, and only what the caller's hash calls aws-chunked is
// decoded. versitygw stores what reaches it, so a GET shows what would have
// been stored.

// TestE2EShortBodyIsNeverStored: a PUT that declares 3,000,000 bytes and
// whose caller half-closes or resets after 1,000,000 must not complete
// upstream, in any payload mode.
func TestE2EShortBodyIsNeverStored(t *testing.T) {
	for _, mode := range []string{"unsigned", "auto", "signed", "streaming"} {
		t.Run(mode, func(t *testing.T) {
			e := newS3Env(t, "--payload", mode)
			u, _ := url.Parse(e.proxyURL)
			var keys []string
			for _, end := range []string{"half-close", "reset"} {
				for i := range 3 {
					key := fmt.Sprintf("short-%s-%d.bin", end, i)
					c, err := net.Dial("tcp", u.Host)
					if err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(c, "PUT /e2e/%s HTTP/1.1\r\nHost: %s\r\nContent-Length: 3000000\r\n\r\n", key, u.Host)
					if _, err := io.Copy(c, patternReader(1000000, uint64(i))); err != nil {
						t.Fatal(err)
					}
					// Let the first megabyte reach the upstream before the end.
					time.Sleep(100 * time.Millisecond)
					if end == "reset" {
						c.(*net.TCPConn).SetLinger(0)
					} else {
						c.(*net.TCPConn).CloseWrite()
						c.SetReadDeadline(time.Now().Add(20 * time.Second))
						if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
							resp.Body.Close()
							if resp.StatusCode < 400 {
								t.Errorf("%s: a short body was answered %d", key, resp.StatusCode)
							}
						}
					}
					c.Close()
					keys = append(keys, key)
				}
			}
			e.waitNoObject(t, keys...)
		})
	}
}

// waitNoObject checks that none of keys was stored, for as long as the
// upstream could take to finish with what it received.
func (e *s3Env) waitNoObject(t *testing.T, keys ...string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		for i := 0; i < len(keys); i++ {
			if status, body := e.s3.Do(t, http.MethodGet, "/"+e.bucket+"/"+keys[i], nil); status != 404 {
				t.Errorf("%s: stored (%d, %d bytes), want nothing", keys[i], status, len(body))
				keys = append(keys[:i], keys[i+1:]...)
				i--
			}
		}
		if len(keys) == 0 || time.Now().After(deadline) {
			return
		}
	}
}

// TestE2EEmptyBodyIsHeldToItsHash: a caller's x-amz-content-sha256 is
// checked for an empty body too, in every mode. Over HTTP/1.0 a
// Transfer-Encoding is ignored (net/http drops the body), so a chunked body
// arrives empty: its hash then cannot match and nothing is stored.
func TestE2EEmptyBodyIsHeldToItsHash(t *testing.T) {
	helloHash := fmt.Sprintf("%x", sha256.Sum256([]byte("hello")))
	for _, mode := range []string{"unsigned", "auto", "signed", "streaming"} {
		t.Run(mode, func(t *testing.T) {
			e := newS3Env(t, "--payload", mode)
			status, body := e.put(t, "empty-wrong.bin", http.NoBody, 0, http.Header{"X-Amz-Content-Sha256": {helloHash}})
			if status != 400 || !strings.Contains(body, "XAmzContentSHA256Mismatch") {
				t.Errorf("empty body with the hash of \"hello\": %d %s, want 400 XAmzContentSHA256Mismatch", status, body)
			}
			status, body = e.put(t, "empty-right.bin", http.NoBody, 0, http.Header{"X-Amz-Content-Sha256": {sigv4.EmptyPayloadHash}})
			if status != 200 {
				t.Errorf("empty body with the empty hash: %d %s, want 200", status, body)
			}

			u, _ := url.Parse(e.proxyURL)
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "PUT /e2e/http10.bin HTTP/1.0\r\nHost: %s\r\nTransfer-Encoding: chunked\r\nX-Amz-Content-Sha256: %s\r\n\r\n5\r\nhello\r\n0\r\n\r\n", u.Host, helloHash)
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("HTTP/1.0 with Transfer-Encoding: %d, want 400", resp.StatusCode)
			}
			e.waitNoObject(t, "empty-wrong.bin", "http10.bin")
		})
	}
}

// TestE2EEmptyAWSChunkedUpload: boto3 and AWS CLI v2 upload an empty file as
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer and
// x-amz-sdk-checksum-algorithm; S3 wants the checksum with it (400
// InvalidRequest otherwise), so it goes on as a header.
func TestE2EEmptyAWSChunkedUpload(t *testing.T) {
	for _, mode := range []string{"unsigned", "auto", "signed", "streaming"} {
		t.Run(mode, func(t *testing.T) {
			e := newS3Env(t, "--payload", mode)
			status, body := e.put(t, "empty-chunked.txt", strings.NewReader("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), 36, http.Header{
				"Content-Encoding":             {"aws-chunked"},
				"X-Amz-Content-Sha256":         {sigv4.StreamingUnsignedPayloadTrailer},
				"X-Amz-Decoded-Content-Length": {"0"},
				"X-Amz-Trailer":                {"x-amz-checksum-crc32"},
				"X-Amz-Sdk-Checksum-Algorithm": {"CRC32"},
			})
			if status != 200 {
				t.Fatalf("empty aws-chunked PUT: %d %s", status, body)
			}
			if status, got := e.s3.Do(t, http.MethodGet, "/e2e/empty-chunked.txt", nil); status != 200 || len(got) != 0 {
				t.Fatalf("stored: %d, %d bytes", status, len(got))
			}
		})
	}

	t.Run("aws-cli-v2", func(t *testing.T) {
		aws := testenv.AWSCLIv2(t)
		dir := t.TempDir()
		cert, key := testenv.WriteCert(t, dir, 1)
		e := newS3Env(t, "--cert", cert, "--key", key)
		src := filepath.Join(dir, "empty.lock")
		if err := os.WriteFile(src, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"s3", "cp", src, "s3://e2e/cli/empty.lock"},
			{"s3api", "put-object", "--bucket", "e2e", "--key", "api/empty.lock", "--body", src, "--checksum-algorithm", "CRC32"},
		} {
			args = append(args, "--endpoint-url", e.proxyURL, "--ca-bundle", cert, "--no-sign-request", "--region", "us-east-1")
			cmd := exec.Command(aws, args...)
			cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		for _, key := range []string{"cli/empty.lock", "api/empty.lock"} {
			if status, got := e.s3.Do(t, http.MethodGet, "/e2e/"+key, nil); status != 200 || len(got) != 0 {
				t.Errorf("%s stored: %d, %d bytes", key, status, len(got))
			}
		}
	})

	t.Run("boto3", func(t *testing.T) {
		python := testenv.Python(t, "boto3")
		dir := t.TempDir()
		cert, key := testenv.WriteCert(t, dir, 1)
		e := newS3Env(t, "--cert", cert, "--key", key)
		script := `
import sys, boto3
from botocore import UNSIGNED
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], verify=sys.argv[2], region_name="us-east-1",
                  config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}))
s3.put_object(Bucket="e2e", Key="boto3/empty.lock", Body=b"")
`
		cmd := exec.Command(python, "-c", script, e.proxyURL, cert)
		cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("boto3 put_object: %v\n%s", err, out)
		}
		if status, got := e.s3.Do(t, http.MethodGet, "/e2e/boto3/empty.lock", nil); status != 200 || len(got) != 0 {
			t.Errorf("stored: %d, %d bytes", status, len(got))
		}
	})
}

// TestE2EOnlyDeclaredAWSChunkedIsDecoded: Content-Encoding: aws-chunked with
// a plain SHA-256 (no STREAMING-* hash, no x-amz-decoded-content-length) is
// a plain body, as S3 takes it; the token is dropped. And signway's own
// streaming uploads add no Content-Encoding: S3 knows the framing from the
// STREAMING-* hash, and a server that stores the header verbatim (versitygw
// does) would hand the object back as "aws-chunked".
func TestE2EOnlyDeclaredAWSChunkedIsDecoded(t *testing.T) {
	data := []byte("5\r\nhello\r\n0\r\n\r\n plain bytes that merely look like a chunk")
	for _, mode := range []string{"unsigned", "auto", "signed", "streaming"} {
		t.Run(mode, func(t *testing.T) {
			e := newS3Env(t, "--payload", mode)
			status, body := e.put(t, "plain.txt", bytes.NewReader(data), int64(len(data)), http.Header{
				"Content-Encoding":     {"aws-chunked"},
				"X-Amz-Content-Sha256": {fmt.Sprintf("%x", sha256.Sum256(data))},
			})
			if status != 200 {
				t.Fatalf("PUT: %d %s", status, body)
			}
			e.wantStored(t, "plain.txt", data, "")

			// A plain file: streamed as signed chunks in auto and streaming
			// modes.
			status, body = e.put(t, "gz.bin", bytes.NewReader(data), int64(len(data)), http.Header{"Content-Encoding": {"gzip"}})
			if status != 200 {
				t.Fatalf("PUT gzip: %d %s", status, body)
			}
			e.wantStored(t, "gz.bin", data, "gzip")
			status, body = e.put(t, "none.bin", bytes.NewReader(data), int64(len(data)), nil)
			if status != 200 {
				t.Fatalf("PUT: %d %s", status, body)
			}
			e.wantStored(t, "none.bin", data, "")
		})
	}
}

// wantStored reads key back from versitygw and checks its bytes and the
// Content-Encoding it was stored with.
func (e *s3Env) wantStored(t *testing.T, key string, data []byte, encoding string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.proxyURL+"/"+e.bucket+"/"+key, nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("%s: %d, %q, want the %d bytes sent", key, resp.StatusCode, got, len(data))
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != encoding {
		t.Errorf("%s stored with Content-Encoding %q, want %q", key, ce, encoding)
	}
}
