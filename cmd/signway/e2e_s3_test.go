package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signway/signway/internal/testenv"
)

// These tests put signway between plain-HTTP callers and versitygw, a real S3
// server that verifies every signature, and check that what is stored is what
// the caller sent.

type s3Env struct {
	s3       *testenv.S3
	proxyURL string
	utilURL  string
	bucket   string
}

func newS3Env(t *testing.T, extra ...string) *s3Env {
	t.Helper()
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "e2e")
	proxyURL, utilURL, _, _, _ := startRunAs(t, s3.AccessKeyID, s3.SecretAccessKey,
		append([]string{"--forward-to", s3.Endpoint, "--service", "s3", "--region", s3.Region}, extra...)...)
	return &s3Env{s3: s3, proxyURL: proxyURL, utilURL: utilURL, bucket: "e2e"}
}

// call sends an unsigned request to signway: the caller holds no credentials.
func (e *s3Env) call(t *testing.T, method, rawPath string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.proxyURL+"/", body)
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(rawPath, "?")
	req.URL.Opaque, req.URL.RawQuery = path, query // sent exactly as written
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type listResult struct {
	Keys     []string `xml:"Contents>Key"`
	Prefixes []string `xml:"CommonPrefixes>Prefix"`
}

func TestE2EObjectsWithHostileKeys(t *testing.T) {
	e := newS3Env(t)
	keys := []struct{ name, wire, stored string }{
		{"plain", "plain.txt", "plain.txt"},
		{"encoded slash", "dir%2Fnested.txt", "dir/nested.txt"},
		{"plus", "a+b.txt", "a+b.txt"},
		{"equals", "k=v.txt", "k=v.txt"},
		{"colon", "12:30.log", "12:30.log"},
		{"spaces", "my%20report%202026.pdf", "my report 2026.pdf"},
		{"utf-8", "%E6%97%A5%E6%9C%AC%E8%AA%9E/caf%C3%A9.txt", "日本語/café.txt"},
		{"mixed reserved", "x/@!~*'()$,;.bin", "x/@!~*'()$,;.bin"},
	}
	for i, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			body := []byte(fmt.Sprintf("object %d: %s", i, k.stored))
			if status, resp := e.call(t, http.MethodPut, "/e2e/"+k.wire, bytes.NewReader(body)); status != 200 {
				t.Fatalf("PUT: %d %s", status, resp)
			}
			if status, got := e.call(t, http.MethodGet, "/e2e/"+k.wire, nil); status != 200 || !bytes.Equal(got, body) {
				t.Fatalf("GET: %d %q", status, got)
			}
			// The key as stored, read straight from versitygw with its own signing.
			if status, got := e.s3.Do(t, http.MethodGet, "/e2e/"+escapeKey(k.stored), nil); status != 200 || !bytes.Equal(got, body) {
				t.Fatalf("the object is not stored under %q: %d %s", k.stored, status, got)
			}
			if status, resp := e.call(t, http.MethodDelete, "/e2e/"+k.wire, nil); status != 204 {
				t.Fatalf("DELETE: %d %s", status, resp)
			}
			if status, _ := e.call(t, http.MethodGet, "/e2e/"+k.wire, nil); status != 404 {
				t.Fatalf("GET after DELETE: %d, want 404", status)
			}
		})
	}
}

func escapeKey(k string) string {
	var b strings.Builder
	for _, c := range []byte(k) {
		if c == '/' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestE2EListObjectsV2WithPrefixes(t *testing.T) {
	e := newS3Env(t)
	for _, k := range []string{"logs/2026/01/a.log", "logs/2026/02/b.log", "logs/2025/c.log", "logs/a+b c.log", "other.txt"} {
		if status, resp := e.call(t, http.MethodPut, "/e2e/"+escapeKey(k), strings.NewReader(k)); status != 200 {
			t.Fatalf("PUT %s: %d %s", k, status, resp)
		}
	}
	tests := []struct {
		query        string
		keys, prefix []string
	}{
		{"list-type=2&prefix=logs/2026/", []string{"logs/2026/01/a.log", "logs/2026/02/b.log"}, nil},
		{"list-type=2&prefix=logs/&delimiter=/", []string{"logs/a+b c.log"}, []string{"logs/2025/", "logs/2026/"}},
		{"list-type=2&prefix=logs%2Fa%2Bb%20", []string{"logs/a+b c.log"}, nil},
		{"list-type=2&max-keys=1&prefix=logs/2026", []string{"logs/2026/01/a.log"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			status, body := e.call(t, http.MethodGet, "/e2e?"+tt.query, nil)
			if status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			var res listResult
			if err := xml.Unmarshal(body, &res); err != nil {
				t.Fatal(err)
			}
			if strings.Join(res.Keys, "|") != strings.Join(tt.keys, "|") || strings.Join(res.Prefixes, "|") != strings.Join(tt.prefix, "|") {
				t.Errorf("keys %q prefixes %q, want %q %q", res.Keys, res.Prefixes, tt.keys, tt.prefix)
			}
		})
	}
}

// patternReader yields n deterministic pseudo-random bytes without holding
// them: the test itself must not be what uses the memory.
func patternReader(n int64, seed uint64) io.Reader {
	return io.LimitReader(rngReader{rand.NewChaCha8([32]byte{byte(seed)})}, n)
}

type rngReader struct{ r *rand.ChaCha8 }

func (r rngReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func sha256Of(t *testing.T, r io.Reader) [32]byte {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func TestE2ELargePut(t *testing.T) {
	e := newS3Env(t)
	const size = 100 << 20
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			body := patternReader(size, 1)
			if chunked {
				body = io.MultiReader(body) // no Content-Length: signway must find it
			}
			if status, resp := e.call(t, http.MethodPut, "/e2e/big.bin", body); status != 200 {
				t.Fatalf("PUT: %d %s", status, resp)
			}
			resp, err := http.Get(e.proxyURL + "/e2e/big.bin")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.ContentLength != size {
				t.Fatalf("GET: %d length %d", resp.StatusCode, resp.ContentLength)
			}
			if got, want := sha256Of(t, resp.Body), sha256Of(t, patternReader(size, 1)); got != want {
				t.Fatal("the object read back differs from the one sent")
			}
		})
	}
}

func TestE2EMultipartUpload(t *testing.T) {
	e := newS3Env(t)
	status, body := e.call(t, http.MethodPost, "/e2e/multi.bin?uploads", nil)
	if status != 200 {
		t.Fatalf("CreateMultipartUpload: %d %s", status, body)
	}
	var created struct {
		UploadID string `xml:"UploadId"`
	}
	if err := xml.Unmarshal(body, &created); err != nil || created.UploadID == "" {
		t.Fatalf("no upload id in %s", body)
	}
	parts := []int64{5 << 20, 1 << 20}
	var complete strings.Builder
	complete.WriteString("<CompleteMultipartUpload>")
	var whole bytes.Buffer
	for i, n := range parts {
		data, _ := io.ReadAll(patternReader(n, uint64(10+i)))
		whole.Write(data)
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/e2e/multi.bin?partNumber=%d&uploadId=%s", e.proxyURL, i+1, created.UploadID), bytes.NewReader(data))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("UploadPart %d: %d", i+1, resp.StatusCode)
		}
		fmt.Fprintf(&complete, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i+1, resp.Header.Get("ETag"))
	}
	complete.WriteString("</CompleteMultipartUpload>")
	if status, body := e.call(t, http.MethodPost, "/e2e/multi.bin?uploadId="+created.UploadID, strings.NewReader(complete.String())); status != 200 {
		t.Fatalf("CompleteMultipartUpload: %d %s", status, body)
	}
	if status, got := e.call(t, http.MethodGet, "/e2e/multi.bin", nil); status != 200 || !bytes.Equal(got, whole.Bytes()) {
		t.Fatalf("GET: %d, %d bytes, want %d", status, len(got), whole.Len())
	}
}

func TestE2EWrongSecretIsAClear403(t *testing.T) {
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "e2e")
	proxyURL, _, _, _, logs := startRunAs(t, s3.AccessKeyID, "not-the-right-secret", "--forward-to", s3.Endpoint, "--service", "s3", "--region", s3.Region)
	resp, err := http.Get(proxyURL + "/e2e/anything")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "SignatureDoesNotMatch") {
		t.Fatalf("got %d %s, want 403 with the upstream's SignatureDoesNotMatch", resp.StatusCode, body)
	}
	// versitygw, like S3, says what it computed: the two agree, so the
	// diagnosis is the key.
	if resp.Header.Get("X-Signway-Signature-Mismatch") != "none" || !strings.Contains(logs.String(), "the secret access key is wrong") {
		t.Errorf("mismatch part %q; logs:\n%s", resp.Header.Get("X-Signway-Signature-Mismatch"), logs.String())
	}
}

func TestE2EAWSCLI(t *testing.T) {
	aws := testenv.AWSCLI(t)
	e := newS3Env(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.bin")
	data, _ := io.ReadAll(patternReader(12<<20, 3)) // above the CLI's 8 MiB multipart threshold
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small file+1.txt")
	os.WriteFile(small, []byte("hello from the aws cli\n"), 0o600)
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(aws, append(args, "--endpoint-url", e.proxyURL, "--no-sign-request", "--region", "us-east-1")...)
		cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cli("s3", "cp", src, "s3://e2e/cli/big.bin")
	cli("s3", "cp", small, "s3://e2e/cli/small file+1.txt")
	ls := cli("s3", "ls", "s3://e2e/cli/")
	if !strings.Contains(ls, "big.bin") || !strings.Contains(ls, "small file+1.txt") {
		t.Fatalf("aws s3 ls:\n%s", ls)
	}
	back := filepath.Join(dir, "out.bin")
	cli("s3", "cp", "s3://e2e/cli/big.bin", back)
	if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
		t.Fatal("aws s3 cp round trip changed the object")
	}
	if status, got := e.s3.Do(t, http.MethodGet, "/e2e/cli/small%20file%2B1.txt", nil); status != 200 || string(got) != "hello from the aws cli\n" {
		t.Fatalf("stored object: %d %q", status, got)
	}
	cli("s3", "rm", "s3://e2e/cli/big.bin")
	if ls := cli("s3", "ls", "s3://e2e/cli/"); strings.Contains(ls, "big.bin") {
		t.Fatalf("still listed after rm:\n%s", ls)
	}
}
