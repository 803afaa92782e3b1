package credentials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// isolateEnv removes every AWS_* variable and points the shared files at
// paths that do not exist, so that the developer's own credentials, profile
// or instance role cannot leak into a test. It returns a temp directory.
func isolateEnv(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restores the old value after the test
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-such-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-such-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// expiry is what the fake sources return: whole seconds, as on the wire.
var expiry = time.Now().Add(time.Hour).UTC().Truncate(time.Second)

// credsJSON is the body the container endpoint and IMDS serve.
func credsJSON(keyID string) string {
	b, _ := json.Marshal(map[string]string{
		"Code": "Success", "Type": "AWS-HMAC",
		"AccessKeyId": keyID, "SecretAccessKey": "chain-secret", "Token": "chain-token",
		"Expiration": expiry.Format(time.RFC3339),
	})
	return string(b)
}

// containerServer is a fake ECS/EKS credentials endpoint that requires the
// authorization token and hands out a new key on every call.
func containerServer(t *testing.T, token string) *httptest.Server {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/creds" || r.Header.Get("Authorization") != token {
			http.Error(w, `{"code":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, credsJSON(fmt.Sprintf("ASIACONTAINER%07d", n.Add(1))))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// imdsServer is a fake IMDSv2: a token from PUT /latest/api/token is
// required on every GET, as on a hop-limited instance.
func imdsServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	const token, role = "imds-session-token", "signway-instance-role"
	var puts atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
			http.Error(w, "missing TTL", http.StatusBadRequest)
			return
		}
		puts.Add(1)
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
		fmt.Fprint(w, token)
	})
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Aws-Ec2-Metadata-Token") != token {
				http.Error(w, "", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/", authed(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, role)
	}))
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/"+role, authed(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, credsJSON("ASIAIMDS0000000001"))
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &puts
}

func TestDefaultChain(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, dir string) ChainOptions
		wantKeyID  string
		wantSource string // prefix
		wantExpiry bool
	}{
		{
			name: "environment variables",
			setup: func(t *testing.T, dir string) ChainOptions {
				t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENV0000000000001")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
				t.Setenv("AWS_SESSION_TOKEN", "env-token")
				return ChainOptions{}
			},
			wantKeyID: "AKIAENV0000000000001", wantSource: "EnvConfigCredentials",
		},
		{
			name: "shared credentials file with AWS_PROFILE",
			setup: func(t *testing.T, dir string) ChainOptions {
				t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, filepath.Join(dir, "credentials"), `
[default]
aws_access_key_id = AKIADEFAULT000000001
aws_secret_access_key = default-secret

[dev]
aws_access_key_id = AKIADEV0000000000001
aws_secret_access_key = dev-secret
`, 0o600))
				t.Setenv("AWS_PROFILE", "dev")
				return ChainOptions{}
			},
			wantKeyID: "AKIADEV0000000000001", wantSource: "SharedConfigCredentials",
		},
		{
			name: "shared credentials file with ChainOptions.Profile",
			setup: func(t *testing.T, dir string) ChainOptions {
				t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, filepath.Join(dir, "credentials"), `
[default]
aws_access_key_id = AKIADEFAULT000000001
aws_secret_access_key = default-secret

[ops]
aws_access_key_id = AKIAOPS0000000000001
aws_secret_access_key = ops-secret
`, 0o600))
				return ChainOptions{Profile: "ops"}
			},
			wantKeyID: "AKIAOPS0000000000001", wantSource: "SharedConfigCredentials",
		},
		{
			name: "credential_process",
			setup: func(t *testing.T, dir string) ChainOptions {
				script := writeFile(t, filepath.Join(dir, "creds.sh"), fmt.Sprintf(`#!/bin/sh
cat <<'JSON'
{"Version": 1, "AccessKeyId": "ASIAPROCESS000000001", "SecretAccessKey": "process-secret", "SessionToken": "process-token", "Expiration": %q}
JSON
`, expiry.Format(time.RFC3339)), 0o700)
				t.Setenv("AWS_CONFIG_FILE", writeFile(t, filepath.Join(dir, "config"),
					"[profile proc]\ncredential_process = "+script+"\n", 0o600))
				t.Setenv("AWS_PROFILE", "proc")
				return ChainOptions{}
			},
			wantKeyID: "ASIAPROCESS000000001", wantSource: "ProcessProvider", wantExpiry: true,
		},
		{
			name: "container credentials with authorization token file",
			setup: func(t *testing.T, dir string) ChainOptions {
				srv := containerServer(t, "container-auth-token")
				t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
				t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
					writeFile(t, filepath.Join(dir, "token"), "container-auth-token", 0o600))
				return ChainOptions{}
			},
			wantKeyID: "ASIACONTAINER0000001", wantSource: "CredentialsEndpointProvider", wantExpiry: true,
		},
		{
			name: "IMDSv2",
			setup: func(t *testing.T, dir string) ChainOptions {
				srv, puts := imdsServer(t)
				t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
				t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)
				t.Cleanup(func() {
					if puts.Load() == 0 {
						t.Error("no IMDSv2 token was requested")
					}
				})
				return ChainOptions{Region: "eu-west-1"}
			},
			wantKeyID: "ASIAIMDS0000000001", wantSource: "EC2RoleProvider", wantExpiry: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.setup(t, isolateEnv(t))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, err := DefaultChain(ctx, opts)
			if err != nil {
				t.Fatalf("DefaultChain: %v", err)
			}
			got, err := p.Retrieve(ctx)
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if got.AccessKeyID != tt.wantKeyID || got.SecretAccessKey == "" {
				t.Errorf("AccessKeyID = %q (secret set: %v), want %q", got.AccessKeyID, got.SecretAccessKey != "", tt.wantKeyID)
			}
			if !strings.HasPrefix(got.Source, tt.wantSource) {
				t.Errorf("Source = %q, want prefix %q", got.Source, tt.wantSource)
			}
			if got.CanExpire != tt.wantExpiry {
				t.Errorf("CanExpire = %v, want %v", got.CanExpire, tt.wantExpiry)
			}
			// IMDS credentials may have their expiry pushed out by the SDK.
			if tt.wantExpiry && got.Expires.Before(expiry) {
				t.Errorf("Expires = %s, want %s or later", got.Expires, expiry)
			}
		})
	}
}

// TestDefaultChainRefreshesThroughSDKCache checks that the SDK's own cache
// does not keep handing back the same credentials: Cache must be able to
// replace them before they expire.
func TestDefaultChainRefreshesThroughSDKCache(t *testing.T) {
	dir := isolateEnv(t)
	srv := containerServer(t, "tok")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", writeFile(t, filepath.Join(dir, "token"), "tok", 0o600))

	ctx := context.Background()
	p, err := DefaultChain(ctx, ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, errA := p.Retrieve(ctx)
	b, errB := p.Retrieve(ctx)
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	if a.AccessKeyID == b.AccessKeyID {
		t.Fatalf("two Retrieves returned the same %s: the SDK cache is in the way", a.AccessKeyID)
	}
}

func TestDefaultChainNoCredentials(t *testing.T) {
	isolateEnv(t)
	ctx := context.Background()
	p, err := DefaultChain(ctx, ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewCache(p, CacheOptions{}).Retrieve(ctx)
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(ue.Source, "default credential chain") {
		t.Fatalf("err = %v, want *UnavailableError naming the default credential chain", err)
	}
}

func TestDefaultChainMissingProfile(t *testing.T) {
	isolateEnv(t)
	_, err := DefaultChain(context.Background(), ChainOptions{Profile: "nope"})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("err = %v, want an error naming profile nope", err)
	}
}

func TestStaticAndAdapters(t *testing.T) {
	ctx := context.Background()
	got, err := Static("AKIASTATIC0000000001", "static-secret", "").Retrieve(ctx)
	if err != nil || got.AccessKeyID != "AKIASTATIC0000000001" || got.CanExpire || got.Source != "StaticCredentials" {
		t.Fatalf("Static: %+v, %v", got, err)
	}
	if _, err := Static("", "", "").Retrieve(ctx); err == nil {
		t.Fatal("Static with empty keys: want an error")
	}

	// Round trip through the SDK interface keeps every field.
	want := Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "round-trip-secret", SessionToken: "round-trip-token", CanExpire: true, Expires: expiry, Source: "Fake"}
	back, err := FromAWS(ToAWS(providerFunc(want)), "fake").Retrieve(ctx)
	if err != nil || back != want {
		t.Fatalf("round trip: got %#v, %v; want %#v", back, err, want)
	}

	// Printing credentials must not show the secret or the token.
	for _, s := range []string{fmt.Sprint(want), fmt.Sprintf("%+v", want), fmt.Sprintf("%#v", want)} {
		if strings.Contains(s, "round-trip") || !strings.Contains(s, "ASIAX") {
			t.Errorf("formatted credentials %q leak a secret or lack the key ID", s)
		}
	}
}

type providerFunc Credentials

func (p providerFunc) Retrieve(context.Context) (Credentials, error) { return Credentials(p), nil }
