package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
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
