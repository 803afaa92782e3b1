package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signway/signway/internal/testenv"
)

// The credential broker through HTTPS_PROXY: unmodified AWS clients hold
// only a signway-issued key pair and trust signway's CA; signway
// intercepts the tunnel for a listed host, checks the caller's signature,
// and signs again with the real keys (versitygw's).

type fwdEnv struct {
	s3       *testenv.S3
	proxyURL string
	caFile   string
	dir      string
	endpoint string // what the clients believe they talk to
	logs     *testenv.LockedBuffer
}

func newFwdEnv(t *testing.T) *fwdEnv {
	t.Helper()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"ca", "init", filepath.Join(dir, "ca")}, &out, io.Discard); err != nil {
		t.Fatalf("signway ca init: %v", err)
	}
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "broker")
	vport := strings.TrimPrefix(s3.Endpoint, "http://127.0.0.1:")
	t.Setenv("AGENT7_SECRET", brokerSecret)
	cfg := writeConfig(t, fmt.Sprintf(`listen: {address: 127.0.0.1:%d}
utility: {address: 127.0.0.1:%d}
forward_proxy:
  ca_cert_file: %[3]s/ca/ca.pem
  ca_key_file: %[3]s/ca/ca-key.pem
callers:
  - id: agent-7
    sigv4_keys:
      - access_key_id: %[4]s
        secret_access_key: ${AGENT7_SECRET}
hosts:
  - host: localhost
    protocol: http
    port: %[5]s
    service: s3
    region: us-east-1
    credentials: {source: env}
    auth: {methods: [sigv4]}
`, testenv.FreePort(t), testenv.FreePort(t), dir, brokerKeyID, vport))
	proxyURL, _, _, _, logs := startRunAs(t, s3.AccessKeyID, s3.SecretAccessKey, "--config", cfg)
	// CLI v1 presigns with SigV2 unless told; path style keeps the host "localhost".
	os.WriteFile(filepath.Join(dir, "config"), []byte("[default]\ns3 =\n  signature_version = s3v4\n  addressing_style = path\n"), 0o600)
	return &fwdEnv{s3: s3, proxyURL: proxyURL, caFile: filepath.Join(dir, "ca", "ca.pem"), dir: dir,
		endpoint: "https://localhost:9443", logs: logs}
}

// env is a client's environment: the proxy, signway's CA, the issued pair.
func (e *fwdEnv) env() []string {
	var env []string
	for _, kv := range envWithoutAWS() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HTTPS_PROXY="+e.proxyURL, "https_proxy="+e.proxyURL, "NO_PROXY=", "no_proxy=",
		"AWS_CA_BUNDLE="+e.caFile, "AWS_CONFIG_FILE="+filepath.Join(e.dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(e.dir, "none"),
		"AWS_ACCESS_KEY_ID="+brokerKeyID, "AWS_SECRET_ACCESS_KEY="+brokerSecret, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1")
}

func TestE2EForwardProxyAWSCLI(t *testing.T) {
	e := newFwdEnv(t)
	big := mustRead(patternReader(20<<20, 11)) // multipart, aws-chunked with checksum trailers on v2
	src := filepath.Join(e.dir, "big.bin")
	os.WriteFile(src, big, 0o600)
	for _, v := range []struct {
		name string
		find func(testing.TB) string
	}{{"v1", testenv.AWSCLI}, {"v2", testenv.AWSCLIv2}} {
		t.Run(v.name, func(t *testing.T) {
			aws := v.find(t)
			ok := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(aws, append(args, "--endpoint-url", e.endpoint)...)
				cmd.Env = e.env()
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("aws %s: %v\n%s\nsignway log:\n%s", strings.Join(args, " "), err, out, e.logs.String())
				}
				return string(out)
			}
			key := v.name + "/via proxy.bin"
			ok("s3", "cp", src, "s3://broker/"+key)
			if status, got := e.s3.Do(t, http.MethodGet, "/broker/"+escapeKey(key), nil); status != 200 || !bytes.Equal(got, big) {
				t.Fatalf("stored: %d, %d bytes of %d", status, len(got), len(big))
			}
			if out := ok("s3", "ls", "s3://broker/"+v.name+"/"); !strings.Contains(out, "via proxy.bin") {
				t.Errorf("ls: %s", out)
			}
			dst := filepath.Join(e.dir, v.name+".down")
			ok("s3", "cp", "s3://broker/"+key, dst)
			if got, _ := os.ReadFile(dst); !bytes.Equal(got, big) {
				t.Errorf("downloaded %d bytes of %d", len(got), len(big))
			}
			// The real keys never reached the client's side.
			if strings.Contains(e.logs.String(), e.s3.SecretAccessKey) {
				t.Error("signway logged the real secret")
			}
		})
	}
}

func TestE2EForwardProxyBoto3(t *testing.T) {
	py, err := exec.LookPath("python3")
	testenv.Require(t, "python3", err)
	if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
		testenv.Require(t, "boto3", fmt.Errorf("%v: %s", err, out))
	}
	e := newFwdEnv(t)
	script := `
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
body = bytes(range(256)) * 40960
s3.put_object(Bucket="broker", Key="boto/é b.bin", Body=body)
assert s3.get_object(Bucket="broker", Key="boto/é b.bin")["Body"].read() == body
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="broker", Prefix="boto/")["Contents"]]
assert keys == ["boto/é b.bin"], keys
s3.upload_file(sys.argv[2], "broker", "boto/multipart.bin")
print("ok")
`
	src := filepath.Join(e.dir, "mp.bin")
	os.WriteFile(src, mustRead(patternReader(12<<20, 5)), 0o600)
	cmd := exec.Command(py, "-c", script, e.endpoint, src)
	cmd.Env = e.env()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("boto3 through HTTPS_PROXY: %v\n%s\nsignway log:\n%s", err, out, e.logs.String())
	}
	if status, got := e.s3.Do(t, http.MethodGet, "/broker/boto/multipart.bin", nil); status != 200 || len(got) != 12<<20 {
		t.Fatalf("multipart stored: %d, %d bytes", status, len(got))
	}
}

// A host not on the allowlist is refused; nothing is tunnelled.
func TestE2EForwardProxyRefusesUnlisted(t *testing.T) {
	e := newFwdEnv(t)
	aws := testenv.AWSCLIv2(t)
	cmd := exec.Command(aws, "s3", "ls", "--endpoint-url", "https://s3.amazonaws.example:443")
	cmd.Env = e.env()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("unlisted host: the CLI succeeded: %s", out)
	}
	if !strings.Contains(e.logs.String(), "forward proxy refused") || !strings.Contains(e.logs.String(), "s3.amazonaws.example") {
		t.Fatalf("signway did not refuse the CONNECT to an unlisted host (CLI said %s)\nsignway log:\n%s", out, e.logs.String())
	}
}
