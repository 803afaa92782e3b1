package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/credentials"
	"github.com/signway/signway/internal/gateway"
	"github.com/signway/signway/internal/testenv"
)

// isolateCredentialsEnv removes every AWS_* variable and points the shared
// files and HOME at an empty directory, so the developer's own credentials
// cannot make a test pass. It returns that directory.
func isolateCredentialsEnv(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-such-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-such-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

func runCredentialsCheck(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runCredentials(context.Background(), append([]string{"check"}, args...), &out, &errOut)
	return out.String() + errOut.String(), err
}

const checkKeyID, checkSecret, checkToken = "AKIACHECK00000000001", "check-secret-do-not-print", "check-token-do-not-print"

func TestCredentialsCheck(t *testing.T) {
	t.Run("environment", func(t *testing.T) {
		isolateCredentialsEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", checkKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", checkSecret)
		t.Setenv("AWS_SESSION_TOKEN", checkToken)
		out, err := runCredentialsCheck(t)
		if err != nil {
			t.Fatalf("err = %v\n%s", err, out)
		}
		for _, want := range []string{"source:", "default credential chain (EnvConfigCredentials)", "access key ID: " + checkKeyID, "expires:       unknown (temporary keys"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, checkSecret) || strings.Contains(out, checkToken) {
			t.Errorf("output shows the secret or the session token:\n%s", out)
		}
	})

	t.Run("profile", func(t *testing.T) {
		dir := isolateCredentialsEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIGNORED000000001") // the profile source must not use them
		t.Setenv("AWS_SECRET_ACCESS_KEY", "ignored")
		creds := filepath.Join(dir, "credentials")
		if err := os.WriteFile(creds, []byte("[ops]\naws_access_key_id = "+checkKeyID+"\naws_secret_access_key = "+checkSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
		out, err := runCredentialsCheck(t, "--source", "profile", "--profile", "ops")
		if err != nil || !strings.Contains(out, "profile ops (SharedConfigCredentials") || !strings.Contains(out, checkKeyID) {
			t.Fatalf("err = %v, output:\n%s", err, out)
		}
	})

	t.Run("assume role through moto STS", func(t *testing.T) {
		moto := testenv.Moto(t)
		isolateCredentialsEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", checkKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", checkSecret)
		t.Setenv("AWS_ENDPOINT_URL_STS", moto.Endpoint)
		const role = "arn:aws:iam::123456789012:role/checked"
		out, err := runCredentialsCheck(t, "--assume-role", role, "--region", "us-east-1")
		if err != nil {
			t.Fatalf("err = %v\n%s", err, out)
		}
		if !strings.Contains(out, "assumed role:  "+role) || !regexp.MustCompile(`access key ID: ASIA[A-Z0-9]{16}\n`).MatchString(out) {
			t.Errorf("output lacks the role or a temporary key:\n%s", out)
		}
		m := regexp.MustCompile(`expires:\s+(\S+) \(in `).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no expiry in output:\n%s", out)
		}
		if exp, err := time.Parse(time.RFC3339, m[1]); err != nil || time.Until(exp) < 10*time.Minute {
			t.Errorf("expiry %q: %v, want a time about 15 minutes away", m[1], err)
		}
	})

	t.Run("per-caller web identity with a token file", func(t *testing.T) {
		moto := testenv.Moto(t)
		dir := isolateCredentialsEnv(t)
		claims := fmt.Sprintf(`{"sub":"alice","exp":%d}`, time.Now().Add(time.Hour).Unix())
		tok := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
		file := filepath.Join(dir, "jwt")
		if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		spec := gateway.CredSpec{Caller: &credentials.CallerWebIdentityOptions{RoleARN: "arn:aws:iam::123456789012:role/caller", STSEndpoint: moto.Endpoint}}
		var out bytes.Buffer
		if err := checkCredentials(context.Background(), spec, file, &out); err != nil {
			t.Fatalf("err = %v", err)
		}
		if !strings.Contains(out.String(), "caller token:  sha256 ") || strings.Contains(out.String(), tok) {
			t.Errorf("output lacks the token hash or shows the token:\n%s", out.String())
		}
		if err := checkCredentials(context.Background(), spec, "", &out); err == nil || !strings.Contains(err.Error(), "--token-file") {
			t.Errorf("without a token: err = %v, want it to ask for --token-file", err)
		}
	})
}

func TestCredentialsCheckFailures(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		setup     func(t *testing.T)
		usage     bool
		wantInErr []string
	}{
		{name: "nothing anywhere", wantInErr: []string{"no AWS credentials", "default credential chain", "docs/credentials.md"}},
		{name: "explicit source without its settings", args: []string{"--source", "env"},
			wantInErr: []string{"source env", "AWS_ACCESS_KEY_ID"}},
		{name: "only the key ID in the environment", args: []string{"--source", "env"}, setup: func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", checkKeyID)
		}, wantInErr: []string{"the secret key is missing: set AWS_SECRET_ACCESS_KEY"}},
		{name: "unknown source", args: []string{"--source", "vault"}, wantInErr: []string{"unknown source"}},
		{name: "role ARN malformed", args: []string{"--assume-role", "role/x"}, setup: func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", checkKeyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", checkSecret)
		}, wantInErr: []string{`"role/x"`}},
		{name: "stray argument", args: []string{"now"}, usage: true, wantInErr: []string{`"now"`}},
		{name: "route without config", args: []string{"--route", "x"}, usage: true, wantInErr: []string{"--route needs --config"}},
		{name: "config with source flags", args: []string{"--config", "x.yaml", "--profile", "p"}, usage: true, wantInErr: []string{"leave out"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateCredentialsEnv(t)
			if tt.setup != nil {
				tt.setup(t)
			}
			out, err := runCredentialsCheck(t, tt.args...)
			if err == nil {
				t.Fatalf("succeeded, want an error:\n%s", out)
			}
			var u *cliflag.UsageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", !tt.usage, tt.usage, err)
			}
			for _, w := range tt.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error()+out, checkSecret) {
				t.Errorf("the secret was printed")
			}
		})
	}

	var out, errOut bytes.Buffer
	var u *cliflag.UsageError
	if err := runCredentials(context.Background(), nil, &out, &errOut); !errors.As(err, &u) || !strings.Contains(err.Error(), "credentials check") || errOut.Len() != 0 {
		t.Errorf("no subcommand: err = %v, printed %q", err, errOut.String())
	}
	if err := runCredentials(context.Background(), []string{"check", "-h"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "--assume-role ARN") {
		t.Errorf("-h: err = %v, usage %q", err, out.String())
	}
}

// checkConfig is a config file with a route per kind of credentials block.
const checkConfig = `
routes:
  - name: static
    match: {path_prefix: /static}
    url: https://static-bucket.s3.eu-west-1.amazonaws.com
    credentials:
      source: static
      access_key_id: ${CHECK_KEY_ID}
      secret_access_key: {file: SECRET_FILE}
  - name: chained
    match: {path_prefix: /chained}
    url: https://chained-bucket.s3.eu-west-1.amazonaws.com
    credentials:
      source: env
      assume_role:
        role_arn: arn:aws:iam::123456789012:role/first
        sts_endpoint: MOTO
        chain:
          - role_arn: arn:aws:iam::210987654321:role/second
            sts_endpoint: MOTO
  - name: per-caller
    match: {path_prefix: /per-caller}
    url: https://abcdefg.lambda-url.us-east-2.on.aws
    credentials:
      source: caller_web_identity
      web_identity:
        account_id: "123456789012"
        role_name: invoker
`

func TestCredentialsCheckConfig(t *testing.T) {
	moto := testenv.Moto(t)
	dir := isolateCredentialsEnv(t)
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(checkSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "signway.yaml")
	body := strings.NewReplacer("SECRET_FILE", secretFile, "MOTO", moto.Endpoint).Replace(checkConfig)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHECK_KEY_ID", checkKeyID)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVFORCHAIN00001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")

	out, err := runCredentialsCheck(t, "--config", cfg, "--route", "static")
	if err != nil || !strings.Contains(out, "static keys "+checkKeyID) || !strings.Contains(out, "never") || strings.Contains(out, checkSecret) {
		t.Errorf("static route: err = %v, output:\n%s", err, out)
	}

	out, err = runCredentialsCheck(t, "--config", cfg, "--route", "chained")
	if err != nil || !strings.Contains(out, "environment variables (EnvConfigCredentials)") ||
		!strings.Contains(out, "role/first") || !strings.Contains(out, "role/second") || !strings.Contains(out, "access key ID: ASIA") {
		t.Errorf("chained route: err = %v, output:\n%s", err, out)
	}

	if _, err = runCredentialsCheck(t, "--config", cfg, "--route", "per-caller"); err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Errorf("per-caller route without a token: err = %v, want it to ask for --token-file", err)
	}

	if _, err = runCredentialsCheck(t, "--config", cfg); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "static, chained, per-caller") {
		t.Errorf("no --route with three routes: err = %v, want a usage error listing them", err)
	}
	if _, err = runCredentialsCheck(t, "--config", cfg, "--route", "nope"); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `no route "nope"`) {
		t.Errorf("unknown route: err = %v", err)
	}
}
