package credentials

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	swconfig "github.com/signway/signway/internal/config"
)

// The environment's keys, present in every FromSource case: an explicit
// source must ignore them unless it is env or default.
const envKeyID, envSecret = "AKIAENVIRONMENT00001", "env-secret-do-not-log"

func setEnvKeys(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", envKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", envSecret)
}

// ssoPortal is a fake AWS IAM Identity Center portal (GetRoleCredentials)
// that requires the cached access token.
func ssoPortal(t *testing.T, accessToken string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/federation/credentials" || r.Header.Get("X-Amz-Sso_bearer_token") != accessToken ||
			q.Get("account_id") != "111122223333" || q.Get("role_name") != "Reader" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Session token not found or invalid"}`)
			return
		}
		fmt.Fprintf(w, `{"roleCredentials":{"accessKeyId":"ASIASSO0000000000001","secretAccessKey":"sso-secret","sessionToken":"sso-token","expiration":%d}}`,
			expiry.UnixMilli())
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFromSourceCredentials(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, dir string) SourceSpec
		wantKeyID  string
		wantSource string // prefix of Credentials.Source
		wantExpiry bool
	}{
		{
			name: "env",
			setup: func(t *testing.T, dir string) SourceSpec {
				t.Setenv("AWS_SESSION_TOKEN", "env-token")
				return SourceSpec{Source: swconfig.SourceEnv}
			},
			wantKeyID: envKeyID, wantSource: "EnvConfigCredentials",
		},
		{
			name: "empty source is the default chain",
			setup: func(t *testing.T, dir string) SourceSpec {
				return SourceSpec{}
			},
			wantKeyID: envKeyID, wantSource: "EnvConfigCredentials",
		},
		{
			name: "static ignores the environment",
			setup: func(t *testing.T, dir string) SourceSpec {
				return SourceSpec{Source: swconfig.SourceStatic, Static: StaticKeys{AccessKeyID: "AKIASTATIC0000000001", SecretAccessKey: "static-secret"}}
			},
			wantKeyID: "AKIASTATIC0000000001", wantSource: "StaticCredentials",
		},
		{
			name: "profile ignores the environment",
			setup: func(t *testing.T, dir string) SourceSpec {
				t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, filepath.Join(dir, "credentials"),
					"[ops]\naws_access_key_id = AKIAOPS0000000000001\naws_secret_access_key = ops-secret\n", 0o600))
				return SourceSpec{Source: swconfig.SourceProfile, Profile: "ops"}
			},
			wantKeyID: "AKIAOPS0000000000001", wantSource: "SharedConfigCredentials",
		},
		{
			name: "profile from AWS_PROFILE",
			setup: func(t *testing.T, dir string) SourceSpec {
				t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, filepath.Join(dir, "credentials"),
					"[dev]\naws_access_key_id = AKIADEV0000000000001\naws_secret_access_key = dev-secret\n", 0o600))
				t.Setenv("AWS_PROFILE", "dev")
				return SourceSpec{Source: swconfig.SourceProfile}
			},
			wantKeyID: "AKIADEV0000000000001", wantSource: "SharedConfigCredentials",
		},
		{
			name: "process runs the profile's credential_process even though it has keys",
			setup: func(t *testing.T, dir string) SourceSpec {
				script := writeFile(t, filepath.Join(dir, "creds.sh"), fmt.Sprintf(`#!/bin/sh
echo '{"Version": 1, "AccessKeyId": "ASIAPROCESS000000001", "SecretAccessKey": "process-secret", "SessionToken": "process-token", "Expiration": "%s"}'
`, expiry.Format(time.RFC3339)), 0o700)
				t.Setenv("AWS_CONFIG_FILE", writeFile(t, filepath.Join(dir, "config"),
					"[profile proc]\naws_access_key_id = AKIAIGNORED000000001\naws_secret_access_key = x\ncredential_process = "+script+"\n", 0o600))
				return SourceSpec{Source: swconfig.SourceProcess, Profile: "proc"}
			},
			wantKeyID: "ASIAPROCESS000000001", wantSource: "ProcessProvider", wantExpiry: true,
		},
		{
			name: "sso with a cached token (after aws sso login)",
			setup: func(t *testing.T, dir string) SourceSpec {
				t.Setenv("HOME", dir)
				cache := filepath.Join(dir, ".aws", "sso", "cache")
				if err := os.MkdirAll(cache, 0o700); err != nil {
					t.Fatal(err)
				}
				sum := sha1.Sum([]byte("my-sso"))
				tok, _ := json.Marshal(map[string]string{
					"accessToken": "sso-access-token", "expiresAt": time.Now().Add(8 * time.Hour).UTC().Format(time.RFC3339),
					"region": "us-east-1", "startUrl": "https://example.awsapps.com/start",
				})
				writeFile(t, filepath.Join(cache, hex.EncodeToString(sum[:])+".json"), string(tok), 0o600)
				t.Setenv("AWS_CONFIG_FILE", writeFile(t, filepath.Join(dir, "config"), `
[profile dev]
sso_session = my-sso
sso_account_id = 111122223333
sso_role_name = Reader
region = eu-west-1

[sso-session my-sso]
sso_region = us-east-1
sso_start_url = https://example.awsapps.com/start
`, 0o600))
				t.Setenv("AWS_ENDPOINT_URL_SSO", ssoPortal(t, "sso-access-token").URL)
				return SourceSpec{Source: swconfig.SourceSSO, Profile: "dev"}
			},
			wantKeyID: "ASIASSO0000000000001", wantSource: "SSOProvider", wantExpiry: true,
		},
		{
			name: "container: EKS Pod Identity with a token file",
			setup: func(t *testing.T, dir string) SourceSpec {
				srv := containerServer(t, "pod-identity-token")
				t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
				// Written with a newline, as a hand-made or templated file may be.
				t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", writeFile(t, filepath.Join(dir, "token"), "pod-identity-token\n", 0o600))
				return SourceSpec{Source: swconfig.SourceContainer}
			},
			wantKeyID: "ASIACONTAINER0000001", wantSource: "CredentialsEndpointProvider", wantExpiry: true,
		},
		{
			name: "container: full URI with AWS_CONTAINER_AUTHORIZATION_TOKEN",
			setup: func(t *testing.T, dir string) SourceSpec {
				srv := containerServer(t, "static-container-token")
				t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
				t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "static-container-token")
				return SourceSpec{Source: swconfig.SourceContainer}
			},
			wantKeyID: "ASIACONTAINER0000001", wantSource: "CredentialsEndpointProvider", wantExpiry: true,
		},
		{
			name: "imds through the IMDSv2 token flow",
			setup: func(t *testing.T, dir string) SourceSpec {
				srv, puts := imdsServer(t)
				t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
				t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)
				t.Cleanup(func() {
					if puts.Load() == 0 {
						t.Error("no IMDSv2 token was requested")
					}
				})
				return SourceSpec{Source: swconfig.SourceIMDS, Region: "eu-west-1"}
			},
			wantKeyID: "ASIAIMDS0000000001", wantSource: "EC2RoleProvider", wantExpiry: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolateEnv(t)
			setEnvKeys(t)
			spec := tt.setup(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, err := FromSource(ctx, spec)
			if err != nil {
				t.Fatalf("FromSource: %v", err)
			}
			got, err := NewCache(p, CacheOptions{}).Retrieve(ctx)
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if got.AccessKeyID != tt.wantKeyID || got.SecretAccessKey == "" {
				t.Errorf("AccessKeyID = %q (secret set: %v), want %q", got.AccessKeyID, got.SecretAccessKey != "", tt.wantKeyID)
			}
			if !strings.HasPrefix(got.Source, tt.wantSource) {
				t.Errorf("Source = %q, want prefix %q", got.Source, tt.wantSource)
			}
			if got.CanExpire != tt.wantExpiry || (tt.wantExpiry && got.Expires.Before(expiry)) {
				t.Errorf("CanExpire = %v, Expires = %s; want %v, %s or later", got.CanExpire, got.Expires, tt.wantExpiry, expiry)
			}
		})
	}
}

// TestFromSourceCredentialsMisconfigured checks that a source missing its
// settings fails at FromSource, naming the source and what to set.
func TestFromSourceCredentialsMisconfigured(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) SourceSpec
		want  []string
	}{
		{"unknown source", func(*testing.T, string) SourceSpec { return SourceSpec{Source: "vault"} },
			[]string{"source vault", "web_identity_file"}},
		{"env without keys", func(*testing.T, string) SourceSpec { return SourceSpec{Source: swconfig.SourceEnv} },
			[]string{"source env", "AWS_ACCESS_KEY_ID"}},
		{"static without a secret", func(*testing.T, string) SourceSpec {
			return SourceSpec{Source: swconfig.SourceStatic, Static: StaticKeys{AccessKeyID: "AKIA1"}}
		}, []string{"source static", "secret_access_key"}},
		{"profile that does not exist", func(*testing.T, string) SourceSpec {
			return SourceSpec{Source: swconfig.SourceProfile, Profile: "nope"}
		},
			[]string{"source profile", "nope"}},
		{"sso on a profile without SSO", func(t *testing.T, dir string) SourceSpec {
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, filepath.Join(dir, "credentials"),
				"[dev]\naws_access_key_id = AKIADEV0000000000001\naws_secret_access_key = dev-secret\n", 0o600))
			return SourceSpec{Source: swconfig.SourceSSO, Profile: "dev"}
		}, []string{"source sso", "aws configure sso --profile dev"}},
		{"process on a profile without credential_process", func(t *testing.T, dir string) SourceSpec {
			t.Setenv("AWS_CONFIG_FILE", writeFile(t, filepath.Join(dir, "config"), "[profile p]\nregion = us-east-1\n", 0o600))
			return SourceSpec{Source: swconfig.SourceProcess, Profile: "p"}
		}, []string{"source process", "profile p has no credential_process"}},
		{"web identity without a role", func(t *testing.T, dir string) SourceSpec {
			t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", filepath.Join(dir, "token"))
			return SourceSpec{Source: swconfig.SourceWebIdentityFile}
		}, []string{"source web_identity_file", "AWS_ROLE_ARN"}},
		{"container without an endpoint", func(*testing.T, string) SourceSpec { return SourceSpec{Source: swconfig.SourceContainer} },
			[]string{"source container", "AWS_CONTAINER_CREDENTIALS_FULL_URI"}},
		{"container over plain http to a foreign host", func(t *testing.T, dir string) SourceSpec {
			t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.10/creds")
			return SourceSpec{Source: swconfig.SourceContainer}
		}, []string{"source container", "192.0.2.10", "https"}},
		{"imds disabled", func(*testing.T, string) SourceSpec { return SourceSpec{Source: swconfig.SourceIMDS} },
			[]string{"source imds", "AWS_EC2_METADATA_DISABLED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.setup(t, isolateEnv(t))
			_, err := FromSource(context.Background(), spec)
			if err == nil {
				t.Fatal("FromSource succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestFromSourceCredentialsWebIdentityFileMoto(t *testing.T) {
	moto := startMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, viaEnv := range []bool{false, true} {
		t.Run(fmt.Sprintf("endpoint from env %v", viaEnv), func(t *testing.T) {
			dir := isolateEnv(t)
			setEnvKeys(t) // must not be used: the call is anonymous
			endpoint, calls := recordingProxy(t, moto)
			t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", writeFile(t, filepath.Join(dir, "token"),
				fakeJWT(t, time.Now().Add(time.Hour), "system:serviceaccount:default:app"), 0o600))
			t.Setenv("AWS_ROLE_ARN", roleARN)
			spec := SourceSpec{Source: swconfig.SourceWebIdentityFile, Region: "eu-west-1", STSEndpoint: endpoint}
			if viaEnv {
				spec.STSEndpoint = ""
				t.Setenv("AWS_ENDPOINT_URL_STS", endpoint)
			}
			p, err := FromSource(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Retrieve(ctx)
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if !tempKeyID.MatchString(got.AccessKeyID) || got.Source != "WebIdentityCredentials" || !got.CanExpire {
				t.Errorf("got %v, want temporary web identity credentials", got)
			}
			if arn := callerARN(t, moto, got); arn != "arn:aws:sts::123456789012:assumed-role/test/"+DefaultSessionName {
				t.Errorf("caller = %s, want the test role", arn)
			}
			if c := calls(); len(c) != 1 || c[0].action != "AssumeRoleWithWebIdentity" || c[0].signedBy != "" {
				t.Errorf("STS calls = %+v, want one unsigned AssumeRoleWithWebIdentity", c)
			}
		})
	}
}
