package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signway/signway/internal/testenv"
)

// signEnv gives `signway sign` versitygw's root keys through the
// environment, as the gateway's default chain reads them.
func signEnv(t *testing.T, keyID, secret string) {
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func runSignCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), append([]string{"sign"}, args...), &out, &errb)
	return out.String(), errb.String(), err
}

func TestSignAgainstVersitygw(t *testing.T) {
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "signed")
	signEnv(t, s3.AccessKeyID, s3.SecretAccessKey)
	base := []string{"--service", "s3", "--region", s3.Region}
	curl, err := exec.LookPath("curl")
	testenv.Require(t, "curl", err)

	// --send: an upload signed with streaming chunk signatures (auto).
	body := filepath.Join(t.TempDir(), "report.txt")
	os.WriteFile(body, []byte("quarterly numbers, signed in chunks"), 0o600)
	out, errOut, err := runSignCmd(t, append(base, "-X", "PUT", "-d", "@"+body, "--send", s3.Endpoint+"/signed/report.txt")...)
	if err != nil || !strings.HasPrefix(out, "HTTP 200 OK\n") {
		t.Fatalf("--send PUT: %v\n%s\n%s", err, out, errOut)
	}
	if status, got := s3.Do(t, "GET", "/signed/report.txt", nil); status != 200 || string(got) != "quarterly numbers, signed in chunks" {
		t.Fatalf("stored: %d %q", status, got)
	}

	// The printout: what the upstream recomputes, and no secret.
	out, _, err = runSignCmd(t, append(base, s3.Endpoint+"/signed/report.txt?versionId=null")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Canonical request:\nGET\n/signed/report.txt\nversionId=null\n", "String to sign:\nAWS4-HMAC-SHA256\n",
		"Signed headers: host;x-amz-content-sha256;x-amz-date\n", "Request:\nGET " + s3.Endpoint + "/signed/report.txt?versionId=null\n",
		"Authorization: AWS4-HMAC-SHA256 Credential=" + s3.AccessKeyID + "/"} {
		if !strings.Contains(out, want) {
			t.Errorf("the printout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "User-Agent") {
		t.Error("the printout shows the empty User-Agent that only stops Go's default")
	}
	if strings.Contains(out, s3.SecretAccessKey) {
		t.Error("the printout holds the secret key")
	}

	// --curl: the printed command, run by curl, is accepted.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"GET", []string{s3.Endpoint + "/signed/report.txt"}, "quarterly numbers, signed in chunks"},
		{"PUT streaming", []string{"-X", "PUT", "-d", "from curl", s3.Endpoint + "/signed/curl.txt"}, ""},
		{"presigned GET", []string{"--sign-query", s3.Endpoint + "/signed/curl.txt"}, "from curl"},
	} {
		t.Run("curl "+tc.name, func(t *testing.T) {
			out, errOut, err := runSignCmd(t, append(append(base, "--curl"), tc.args...)...)
			if err != nil || !strings.HasPrefix(out, "curl -sS -X ") {
				t.Fatalf("%v\n%s\n%s", err, out, errOut)
			}
			cmd := exec.Command("sh", "-c", strings.Replace(out, "curl ", curl+" --fail-with-body ", 1))
			got, err := cmd.CombinedOutput()
			if err != nil || string(got) != tc.want {
				t.Fatalf("curl: %v %q\ncommand:\n%s", err, got, out)
			}
		})
	}
	if status, got := s3.Do(t, "GET", "/signed/curl.txt", nil); status != 200 || string(got) != "from curl" {
		t.Fatalf("curl's upload: %d %q", status, got)
	}

	// --config --route: the route's upstream, credentials and rules.
	t.Setenv("SIGN_KEY", s3.AccessKeyID)
	t.Setenv("SIGN_SECRET", s3.SecretAccessKey)
	cfg := writeConfig(t, fmt.Sprintf(`routes:
  - name: other
    url: https://abc.execute-api.eu-west-1.amazonaws.com
    match: {path_prefix: /o}
  - name: reports
    url: %s/signed
    service: s3
    region: %s
    strip_prefix: /r
    credentials: {access_key_id: "${SIGN_KEY}", secret_access_key: "${SIGN_SECRET}"}
`, s3.Endpoint, s3.Region))
	out, errOut, err = runSignCmd(t, "--config", cfg, "--route", "reports", "--send", "/r/report.txt")
	if err != nil || !strings.HasSuffix(out, "\n\nquarterly numbers, signed in chunks") {
		t.Fatalf("--config --route --send: %v\n%s\n%s", err, out, errOut)
	}

	// A wrong secret: the upstream's refusal, with signway's diagnosis.
	signEnv(t, s3.AccessKeyID, "not-the-secret")
	out, errOut, err = runSignCmd(t, append(base, "--send", s3.Endpoint+"/signed/report.txt")...)
	if err == nil || !strings.Contains(err.Error(), "the upstream answered 403") || !strings.Contains(out, "SignatureDoesNotMatch") ||
		!strings.Contains(errOut, "the upstream refused signway's signature") || !strings.Contains(errOut, "signing key differs") {
		t.Fatalf("wrong secret: %v\n%s\n%s", err, out, errOut)
	}
}

func TestSignUsageErrors(t *testing.T) {
	cfg := writeConfig(t, "routes:\n  - name: a\n    url: https://abc.execute-api.eu-west-1.amazonaws.com\n    match: {path_prefix: /a}\n  - name: b\n    url: https://def.execute-api.eu-west-1.amazonaws.com\n")
	tests := []struct {
		args []string
		want string
	}{
		{nil, "give the URL to sign"},
		{[]string{"/relative"}, `URL "/relative" must be absolute http:// or https://`},
		{[]string{"https://a.example/x", "https://b.example/y"}, "one URL only"},
		{[]string{"--config", cfg, "--service", "s3", "/x"}, "--service cannot be combined with --config"},
		{[]string{"--route", "a", "https://abc.execute-api.eu-west-1.amazonaws.com/x"}, "--route needs --config"},
		{[]string{"-H", "NoColon", "https://abc.execute-api.eu-west-1.amazonaws.com/x"}, `-H "NoColon": write a header as 'Name: value'`},
		{[]string{"-d", "@/no/such/file", "https://abc.execute-api.eu-west-1.amazonaws.com/x"}, "-d @/no/such/file:"},
		{[]string{"--curl", "--send", "https://abc.execute-api.eu-west-1.amazonaws.com/x"}, "--curl and --send: choose one"},
		{[]string{"--config", cfg, "/x"}, "has 2 routes; choose one with --route (a, b)"},
		{[]string{"--config", cfg, "--route", "c", "/x"}, `has no route "c" (it has: a, b)`},
		{[]string{"https://api.internal.example/x"}, "the signing service cannot be detected"},
	}
	for _, tt := range tests {
		_, _, err := runSignCmd(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want %q", tt.args, err, exitCode(err), tt.want)
		}
	}
}

func TestSignPrintoutRedactsTheSessionToken(t *testing.T) {
	signEnv(t, "AKIDPRINT", "print-secret")
	t.Setenv("AWS_SESSION_TOKEN", "print-session-token")
	for _, args := range [][]string{
		{"https://abc.execute-api.eu-west-1.amazonaws.com/prod/items"},
		{"--sign-query", "https://abc.execute-api.eu-west-1.amazonaws.com/prod/items"},
	} {
		out, errOut, err := runSignCmd(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut)
		}
		if strings.Contains(out, "print-session-token") || strings.Contains(out, "print-secret") || !strings.Contains(out, "redacted") {
			t.Errorf("%v: the printout shows a secret or hides nothing:\n%s", args, out)
		}
		if !strings.Contains(out, "\nSigned headers: host") || !strings.Contains(out, "eu-west-1/execute-api/aws4_request") {
			t.Errorf("%v: printout:\n%s", args, out)
		}
	}
	// --curl is the one place the token is shown: the command must work.
	out, _, err := runSignCmd(t, "--curl", "https://abc.execute-api.eu-west-1.amazonaws.com/prod/items")
	if err != nil || !strings.Contains(out, "-H 'X-Amz-Security-Token: print-session-token'") {
		t.Errorf("--curl: %v\n%s", err, out)
	}
}
