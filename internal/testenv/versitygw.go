package testenv

import (
	"bytes"
	"crypto/rand"
	"debug/buildinfo"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// VersitygwModule and VersitygwVersion pin the S3 server the tests run
// against; scripts/install-tools.sh installs exactly this.
const (
	VersitygwModule  = "github.com/versity/versitygw/cmd/versitygw"
	VersitygwVersion = "v1.8.0"
)

// S3 is a running versitygw: a real S3 implementation that verifies SigV4
// signatures, serving a posix directory that lives as long as the test.
type S3 struct {
	Endpoint        string // http://127.0.0.1:PORT
	AccessKeyID     string
	SecretAccessKey string
	Region          string
	Dir             string // the posix backend's root; each bucket is a directory in it
	Process         *Process
	client          *http.Client
}

// Versitygw starts versitygw with fresh root credentials and an empty data
// directory, and stops it when the test ends.
func Versitygw(t testing.TB) *S3 {
	t.Helper()
	bin, err := lookGoTool("versitygw", "go install "+VersitygwModule+"@"+VersitygwVersion)
	Require(t, "versitygw (S3 server)", err)
	if bi, err := buildinfo.ReadFile(bin); err == nil && bi.Main.Version != VersitygwVersion {
		t.Logf("testenv: %s is versitygw %s, tests are pinned to %s", bin, bi.Main.Version, VersitygwVersion)
	}

	port := FreePort(t)
	s := &S3{
		Endpoint:        "http://127.0.0.1:" + strconv.Itoa(port),
		AccessKeyID:     "AKIDSIGNWAY" + randomHex(t, 6),
		SecretAccessKey: randomHex(t, 20),
		Region:          "us-east-1",
		Dir:             t.TempDir(),
		client:          &http.Client{Timeout: 30 * time.Second},
	}
	cmd := exec.Command(bin,
		"--port", "127.0.0.1:"+strconv.Itoa(port),
		"--region", s.Region,
		"--quiet", // no line per request: the output is kept for failure messages
		"posix", s.Dir)
	cmd.Env = append(os.Environ(),
		"ROOT_ACCESS_KEY_ID="+s.AccessKeyID,
		"ROOT_SECRET_ACCESS_KEY="+s.SecretAccessKey)
	s.Process = StartProcess(t, "versitygw", cmd, HTTPReady(s.Endpoint+"/"))
	return s
}

// Sign signs r for this server with its root credentials and the SDK signer.
func (s *S3) Sign(r *http.Request, payloadHash string) error {
	return SignSDK(r, s.AccessKeyID, s.SecretAccessKey, "s3", s.Region, payloadHash)
}

// Do sends a request signed with the root credentials (payload signed) to
// path (which starts with "/") and returns the status and body.
func (s *S3) Do(t testing.TB, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("testenv: building %s %s: %v", method, path, err)
	}
	if err := s.Sign(req, PayloadHash(body)); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("testenv: %s %s to versitygw: %v", method, path, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testenv: reading response to %s %s: %v", method, path, err)
	}
	return resp.StatusCode, respBody
}

// CreateBucket creates bucket name with a signed PUT and fails the test
// unless the server answers 200.
func (s *S3) CreateBucket(t testing.TB, name string) {
	t.Helper()
	status, body := s.Do(t, http.MethodPut, "/"+name, nil)
	if status != http.StatusOK {
		t.Fatalf("testenv: creating bucket %q: status %d: %s", name, status, body)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}
