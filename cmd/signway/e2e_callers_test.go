package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
	"github.com/signway/signway/internal/testenv"
)

// The credential broker: a caller holds only a signway-issued key pair and
// uses unmodified AWS clients with --endpoint-url of signway; signway checks
// the caller's signature and signs again with the real keys (versitygw's,
// which the caller never sees).

const (
	brokerKeyID  = "SWAYAGENT7EXAMPLE"
	brokerSecret = "agent-7-secret-issued-by-signway"
	brokerAPIKey = "reporting-api-key-0123456789"
)

type brokerEnv struct {
	s3       *testenv.S3
	proxyURL string
	dir      string
	logs     *testenv.LockedBuffer
}

func newBrokerEnv(t *testing.T, extraConfig string) *brokerEnv {
	t.Helper()
	dir := t.TempDir()
	// CLI v1 presigns S3 URLs with the retired SigV2 unless told otherwise.
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte("[default]\ns3 =\n  signature_version = s3v4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "e2e")
	t.Setenv("AGENT7_SECRET", brokerSecret)
	t.Setenv("REPORTING_API_KEY", brokerAPIKey)
	cfg := writeConfig(t, fmt.Sprintf(`listen: {address: 127.0.0.1:%d}
utility: {address: 127.0.0.1:%d}
callers:
  - id: reporting
    api_keys: ["${REPORTING_API_KEY}"]
  - id: agent-7
    sigv4_keys:
      - access_key_id: %s
        secret_access_key: ${AGENT7_SECRET}
  - id: outsider
    sigv4_keys:
      - access_key_id: SWAYOUTSIDER0001
        secret_access_key: ${AGENT7_SECRET}
routes:
  - name: data
    url: %s
    service: s3
    region: %s
    credentials: {source: env}
    auth:
      methods: [api_key, sigv4]
      api_key_header: api-key
      allow: [reporting, agent-7]
%s`, testenv.FreePort(t), testenv.FreePort(t), brokerKeyID, s3.Endpoint, s3.Region, extraConfig))
	proxyURL, _, _, _, logs := startRunAs(t, s3.AccessKeyID, s3.SecretAccessKey, "--config", cfg)
	return &brokerEnv{s3: s3, proxyURL: proxyURL, dir: dir, logs: logs}
}

// cli runs an AWS CLI holding only the given key pair.
func (e *brokerEnv) cli(t *testing.T, aws, keyID, secret string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(aws, append(args, "--endpoint-url", e.proxyURL, "--region", "us-east-1")...)
	cmd.Env = append(envWithoutAWS(), "AWS_CONFIG_FILE="+filepath.Join(e.dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(e.dir, "none"),
		"AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// envWithoutAWS is the environment without the AWS_ variables (signway's
// own keys among them): the caller holds only what it is given.
func envWithoutAWS() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

func (e *brokerEnv) stored(t *testing.T, key string, want []byte) {
	t.Helper()
	if status, got := e.s3.Do(t, http.MethodGet, "/e2e/"+escapeKey(key), nil); status != 200 || !bytes.Equal(got, want) {
		t.Fatalf("%s as stored in versitygw: %d, %d bytes, want %d", key, status, len(got), len(want))
	}
}

func TestE2ECallerBrokerAWSCLI(t *testing.T) {
	e := newBrokerEnv(t, "")
	big := mustRead(patternReader(20<<20, 7)) // above the CLI's 8 MiB threshold: multipart
	src := filepath.Join(e.dir, "big.bin")
	if err := os.WriteFile(src, big, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		name string
		find func(testing.TB) string
	}{{"v1", testenv.AWSCLI}, {"v2", testenv.AWSCLIv2}} {
		t.Run(v.name, func(t *testing.T) {
			aws := v.find(t)
			ok := func(args ...string) string {
				t.Helper()
				out, err := e.cli(t, aws, brokerKeyID, brokerSecret, args...)
				if err != nil {
					t.Fatalf("aws %s: %v\n%s\nsignway log:\n%s", strings.Join(args, " "), err, out, e.logs.String())
				}
				return out
			}
			key := v.name + "/big file+1.bin"
			ok("s3", "cp", src, "s3://e2e/"+key)
			e.stored(t, key, big)
			if out := ok("s3", "ls", "s3://e2e/"+v.name+"/"); !strings.Contains(out, "big file+1.bin") || !strings.Contains(out, "20971520") {
				t.Errorf("ls: %s", out)
			}
			dst := filepath.Join(e.dir, v.name+"-down.bin")
			ok("s3", "cp", "s3://e2e/"+key, dst)
			if got, _ := os.ReadFile(dst); !bytes.Equal(got, big) {
				t.Errorf("downloaded %d bytes, want the %d uploaded", len(got), len(big))
			}
			ok("s3", "cp", "s3://e2e/"+key, "s3://e2e/"+v.name+"/copy.bin")
			e.stored(t, v.name+"/copy.bin", big)
			small := filepath.Join(e.dir, "small.txt")
			os.WriteFile(small, []byte("hello through the broker\n"), 0o600)
			ok("s3api", "put-object", "--bucket", "e2e", "--key", v.name+"/small.txt", "--body", small)
			e.stored(t, v.name+"/small.txt", []byte("hello through the broker\n"))
			ok("s3", "rm", "s3://e2e/"+key)
			if status, _ := e.s3.Do(t, http.MethodGet, "/e2e/"+escapeKey(key), nil); status != 404 {
				t.Errorf("after rm: %d, want 404", status)
			}

			// What AWS would answer, as the CLI reports it.
			for _, c := range []struct{ name, keyID, secret, want string }{
				{"wrong secret", brokerKeyID, "not-the-secret", "SignatureDoesNotMatch"},
				{"unknown key", "SWAYNOBODY000001", brokerSecret, "InvalidAccessKeyId"},
				{"known but not allowed", "SWAYOUTSIDER0001", brokerSecret, "AccessDenied"},
			} {
				out, err := e.cli(t, aws, c.keyID, c.secret, "s3api", "list-objects-v2", "--bucket", "e2e")
				if err == nil || !strings.Contains(out, c.want) {
					t.Errorf("%s: err %v, output %q, want %s", c.name, err, out, c.want)
				}
				if strings.Contains(out, e.s3.SecretAccessKey) || strings.Contains(out, brokerSecret) {
					t.Errorf("%s: the answer shows a secret: %s", c.name, out)
				}
			}

			// Presigned by the CLI against signway: works until it expires.
			ok("s3api", "put-object", "--bucket", "e2e", "--key", v.name+"/shared.txt", "--body", small)
			// Two URLs: one that lives long enough for a slow machine to use
			// it, one that has surely expired by the time it is tried.
			url := strings.TrimSpace(ok("s3", "presign", "s3://e2e/"+v.name+"/shared.txt", "--expires-in", "600"))
			if code, body := get(t, http.DefaultClient, url); code != 200 || body != "hello through the broker\n" {
				t.Fatalf("presigned GET: %d %q", code, body)
			}
			short := strings.TrimSpace(ok("s3", "presign", "s3://e2e/"+v.name+"/shared.txt", "--expires-in", "1"))
			time.Sleep(2 * time.Second)
			code, body := get(t, http.DefaultClient, short)
			if code != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") || !strings.Contains(body, "expired") {
				t.Errorf("expired presigned GET: %d %q, want 403 AccessDenied expired", code, body)
			}
		})
	}
}

// TestE2ECallerBrokerBoto3: boto3 with only the signway-issued pair.
func TestE2ECallerBrokerBoto3(t *testing.T) {
	py, err := exec.LookPath("python3")
	testenv.Require(t, "python3", err)
	if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
		testenv.Require(t, "boto3", fmt.Errorf("%v: %s (pip install boto3)", err, out))
	}
	e := newBrokerEnv(t, "")
	script := `
import sys, boto3, botocore
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],
    config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
body = bytes(range(256)) * 4096
s3.put_object(Bucket="e2e", Key="boto/a b.bin", Body=body)
assert s3.get_object(Bucket="e2e", Key="boto/a b.bin")["Body"].read() == body
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="e2e", Prefix="boto/")["Contents"]]
assert keys == ["boto/a b.bin"], keys
s3.copy_object(Bucket="e2e", Key="boto/copy.bin", CopySource={"Bucket": "e2e", "Key": "boto/a b.bin"})
s3.delete_object(Bucket="e2e", Key="boto/a b.bin")
bad = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id=sys.argv[2], aws_secret_access_key="wrong",
    config=Config(retries={"max_attempts": 1}))
try:
    bad.list_objects_v2(Bucket="e2e")
    sys.exit("a wrong secret was accepted")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
`
	cmd := exec.Command(py, "-c", script, e.proxyURL, brokerKeyID, brokerSecret)
	cmd.Env = append(envWithoutAWS(), "AWS_CONFIG_FILE="+filepath.Join(e.dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(e.dir, "none"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s\nsignway log:\n%s", err, out, e.logs.String())
	}
	if got := strings.TrimSpace(string(out)); got != "SignatureDoesNotMatch 403" {
		t.Errorf("wrong secret: %q, want SignatureDoesNotMatch 403", got)
	}
	e.stored(t, "boto/copy.bin", bytes.Repeat(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}(), 4096))
}

// TestE2ECallerAPIKeyAndStreaming: an API key admits a plain HTTP caller; a
// caller's aws-chunked upload has its chunk signatures checked as it
// streams, and a changed chunk stores nothing.
func TestE2ECallerAPIKeyAndStreaming(t *testing.T) {
	e := newBrokerEnv(t, "")
	do := func(req *http.Request) (int, string, http.Header) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	put := func(key, apiKey string) (int, string, http.Header) {
		req, _ := http.NewRequest(http.MethodPut, e.proxyURL+"/e2e/"+key, strings.NewReader("via api key"))
		if apiKey != "" {
			req.Header.Set("api-key", apiKey)
		}
		return do(req)
	}
	if code, body, _ := put("k/ok.txt", brokerAPIKey); code != 200 {
		t.Fatalf("PUT with the API key: %d %s", code, body)
	}
	e.stored(t, "k/ok.txt", []byte("via api key"))
	code, body, h := put("k/none.txt", "")
	if code != 401 || !strings.Contains(strings.Join(h.Values("WWW-Authenticate"), ","), `header="api-key"`) || !strings.Contains(body, "<Code>Unauthorized</Code>") {
		t.Errorf("no key: %d %v %s", code, h, body)
	}
	if code, body, _ := put("k/bad.txt", "guess"); code != 401 || !strings.Contains(body, "InvalidApiKey") || strings.Contains(body, "reporting") {
		t.Errorf("wrong key: %d %s", code, body)
	}
	for _, k := range []string{"k/none.txt", "k/bad.txt"} {
		if status, _ := e.s3.Do(t, http.MethodGet, "/e2e/"+k, nil); status != 404 {
			t.Errorf("%s reached storage: %d", k, status)
		}
	}

	// A chunk-signed upload, as SDKs that stream (Java, Go v1) send it.
	data := mustRead(patternReader(200<<10, 5))
	streamed := func(key string, tamper bool) (int, string) {
		req, _ := http.NewRequest(http.MethodPut, e.proxyURL+"/e2e/"+key, nil)
		s := sigv4.NewSigner(nil)
		cs, err := s.SignStreaming(req, sigv4.Credentials{AccessKeyID: brokerKeyID, SecretAccessKey: brokerSecret},
			&sigv4.Params{Service: "s3", Region: "us-east-1", ContentSHA256Header: true},
			sigv4.StreamingOptions{DecodedLength: int64(len(data)), ChunkSize: 64 << 10}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		enc := mustRead(cs.Body(bytes.NewReader(data)))
		if tamper {
			i := bytes.LastIndex(enc, []byte("chunk-signature=")) - 100 // inside the last data chunk
			enc[i] ^= 1
		}
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(enc)), int64(len(enc))
		code, body, _ := do(req)
		return code, body
	}
	if code, body := streamed("k/streamed.bin", false); code != 200 {
		t.Fatalf("chunk-signed PUT: %d %s\n%s", code, body, e.logs.String())
	}
	e.stored(t, "k/streamed.bin", data)
	if code, body := streamed("k/tampered.bin", true); code != 400 && code != 403 {
		t.Errorf("tampered chunk: %d %s, want 400 or 403", code, body)
	}
	if status, _ := e.s3.Do(t, http.MethodGet, "/e2e/k/tampered.bin", nil); status != 404 {
		t.Errorf("a tampered upload reached storage: %d", status)
	}
}

// TestCallerKeyRevokedOnReload: a key removed from the config stops working
// when the file is reloaded, with no restart; the API key header never
// reaches the upstream.
func TestCallerKeyRevokedOnReload(t *testing.T) {
	var seenKey atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenKey.Store(r.Header.Get("Api-Key") + r.Header.Get("X-Api-Key"))
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	t.Setenv("KEY_A", "key-of-a-0123456789")
	t.Setenv("KEY_B", "key-of-b-0123456789")
	addrs := fmt.Sprintf("listen: {address: 127.0.0.1:%d}\nutility: {address: 127.0.0.1:%d}\n", testenv.FreePort(t), testenv.FreePort(t))
	conf := func(keys string) string {
		return addrs + `callers:
  - {id: a, api_keys: [` + keys + `]}
routes:
  - name: api
    url: ` + up.URL + `
    service: execute-api
    region: eu-west-1
    credentials: {source: env}
    auth: {methods: [api_key], api_key_header: api-key}
`
	}
	path := writeConfig(t, conf(`"${KEY_A}", "${KEY_B}"`))
	proxyURL, _, _, _, logs := startRunAs(t, "AKIDRELOAD", "reload-secret", "--config", path)
	call := func(key string) int {
		req, _ := http.NewRequest(http.MethodGet, proxyURL+"/x", nil)
		req.Header.Set("api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := call("key-of-a-0123456789"), call("key-of-b-0123456789"); a != 200 || b != 200 {
		t.Fatalf("before the reload: %d %d", a, b)
	}
	if k, _ := seenKey.Load().(string); k != "" {
		t.Errorf("the upstream received the API key %q", k)
	}
	tmp := path + ".new"
	os.WriteFile(tmp, []byte(conf(`"${KEY_A}"`)), 0o600)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for call("key-of-b-0123456789") != 401 {
		if time.Now().After(deadline) {
			t.Fatalf("the revoked key still works after the file changed:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := call("key-of-a-0123456789"); code != 200 {
		t.Errorf("the kept key after the reload: %d", code)
	}
}

// TestRateLimitSharedByTwoGateways: two signway instances with one Redis
// give a caller one bucket between them; with Redis gone they fail open
// (the default) and count it in /metrics.
func TestRateLimitSharedByTwoGateways(t *testing.T) {
	rd := testenv.StartRedis(t)
	up := namedUpstream(t, "up")
	t.Setenv("SHARED_KEY", "shared-key-0123456789")
	gateway := func() (string, string) {
		cfg := writeConfig(t, fmt.Sprintf(`listen: {address: 127.0.0.1:%d}
utility: {address: 127.0.0.1:%d}
rate_limits: {store: "%s"}
callers:
  - {id: batch, api_keys: ["${SHARED_KEY}"], rate_limit: {requests_per_second: 0.2, burst: 3}}
routes:
  - name: api
    url: %s
    service: execute-api
    region: eu-west-1
    credentials: {source: env}
    auth: {methods: [api_key]}
`, testenv.FreePort(t), testenv.FreePort(t), rd.URL, up.URL))
		p, u, _, _, _ := startRunAs(t, "AKIDLIMIT", "limit-secret", "--config", cfg)
		return p, u
	}
	p1, u1 := gateway()
	p2, _ := gateway()
	call := func(base string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+"/x", nil)
		req.Header.Set("X-Api-Key", "shared-key-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	var codes []int
	for i := range 6 {
		base := p1
		if i%2 == 1 {
			base = p2
		}
		code, retry := call(base)
		codes = append(codes, code)
		if code == 429 && retry == "" {
			t.Error("429 without Retry-After")
		}
	}
	if want := []int{200, 200, 200, 429, 429, 429}; fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("answers across two gateways: %v, want %v (one bucket of 3)", codes, want)
	}
	rd.Stop()
	if code, _ := call(p1); code != 200 {
		t.Errorf("with Redis down (fail open): %d", code)
	}
	if _, body := get(t, http.DefaultClient, u1+"/metrics"); !strings.Contains(body, "signway_rate_limit_store_errors_total 1") ||
		!strings.Contains(body, `signway_auth_failures_total{reason="rate_limited",route="api"} 1`) ||
		!strings.Contains(body, `signway_caller_requests_total{caller="batch",code="200",route="api"} 3`) {
		t.Errorf("metrics:\n%s", grepLines(body, "signway_rate_limit|signway_auth|signway_caller"))
	}
}

func grepLines(s, re string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if regexp.MustCompile(re).MatchString(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
