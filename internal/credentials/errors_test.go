package credentials

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	swconfig "github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/testenv"
)

// Recognisable secrets: none of them may appear in an error or a log line.
const (
	leakKeyID   = "AKIALEAKCHECK0000001"
	leakSecret  = "leakcheckSECRETdoNotShowAnywhere0000000001"
	leakToken   = "leakcheckSESSIONtokenDoNotShowAnywhere000000000000000000000000000001"
	leakShortS  = "S3cr3t!" // short: only structure, not scrubbing, keeps it out
	leakProcess = `{"Version":1,"AccessKeyId":"` + leakKeyID + `","SecretAccessKey":"` + leakSecret + `","SessionToken":"` + leakToken + `"}`
)

func assertNoLeak(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{leakSecret, leakToken, leakShortS, `"SecretAccessKey"`} {
		if strings.Contains(s, secret) {
			t.Errorf("%s leaks %q:\n%s", what, secret, s)
		}
	}
}

// processProfile writes a profile whose credential_process is script.
func processProfile(t *testing.T, dir, script string) SourceSpec {
	t.Helper()
	path := writeFile(t, filepath.Join(dir, "creds.sh"), "#!/bin/sh\n"+script, 0o700)
	t.Setenv("AWS_CONFIG_FILE", writeFile(t, filepath.Join(dir, "config"), "[profile proc]\ncredential_process = "+path+"\n", 0o600))
	return SourceSpec{Source: swconfig.SourceProcess, Profile: "proc"}
}

// TestSourceErrorsLeakNothing: issue 12 item 1. A credential_process that
// prints a notice before its JSON made the SDK quote the whole output, and
// signway passed that on to the 503 body, /readyz and the log. Every source
// failure below carries recognisable secrets; the error, and the Cache's
// log at debug level, must keep what failed and why without them.
func TestSourceErrorsLeakNothing(t *testing.T) {
	tests := []struct {
		name   string
		source func(t *testing.T, dir string) Provider
		want   []string
	}{
		{"credential_process prints a notice before its JSON", func(t *testing.T, dir string) Provider {
			return mustFromSource(t, processProfile(t, dir, "echo 'notice: refreshed "+leakProcess+"'\n"))
		}, []string{"credential_process of profile proc", "not its credentials JSON", "invalid JSON at byte"}},
		{"credential_process prints the secret to stderr and stdout, then fails", func(t *testing.T, dir string) Provider {
			return mustFromSource(t, processProfile(t, dir, "echo '"+leakSecret+"' >&2\necho '"+leakProcess+"'\nexit 3\n"))
		}, []string{"credential_process of profile proc", "exited with status 3"}},
		{"credential_process JSON with the wrong type", func(t *testing.T, dir string) Provider {
			return mustFromSource(t, processProfile(t, dir, `echo '{"Version":1,"AccessKeyId":"`+leakKeyID+`","SecretAccessKey":1,"SessionToken":"`+leakShortS+`"}'`+"\n"))
		}, []string{"wrong type for SecretAccessKey"}},
		{"credential_process JSON without a secret", func(t *testing.T, dir string) Provider {
			return mustFromSource(t, processProfile(t, dir, `echo '{"Version":1,"AccessKeyId":"`+leakKeyID+`","SessionToken":"`+leakToken+`"}'`+"\n"))
		}, []string{"has no SecretAccessKey"}},
		{"container endpoint answers an error quoting a secret", func(t *testing.T, dir string) Provider {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"code":"%s","message":"bad: %s %s"}`, leakShortS, leakSecret, leakShortS)
			}))
			t.Cleanup(srv.Close)
			t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds?token="+leakShortS)
			t.Setenv("AWS_MAX_ATTEMPTS", "1")
			return mustFromSource(t, SourceSpec{Source: swconfig.SourceContainer})
		}, []string{"container credentials endpoint", "unrecognised error code"}},
		{"container endpoint answers garbage holding a secret", func(t *testing.T, dir string) Provider {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "notice "+leakProcess)
			}))
			t.Cleanup(srv.Close)
			t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
			return mustFromSource(t, SourceSpec{Source: swconfig.SourceContainer})
		}, []string{"container credentials endpoint", "could not be parsed"}},
		{"assume role: STS answers AccessDenied quoting a secret", func(t *testing.T, dir string) Provider {
			sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/base is not authorized; key %s</Message></Error></ErrorResponse>`, leakSecret)
			}))
			t.Cleanup(sts.Close)
			p, err := AssumeRole(Static(leakKeyID, leakSecret, leakToken), AssumeRoleOptions{RoleARN: roleARN, Region: "us-east-1", Endpoint: sts.URL})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, []string{"assume role " + roleARN, "STS AssumeRole: answered AccessDenied (HTTP 403)", "user/base is not authorized", "trust policy"}},
		{"assume role: STS unreachable", func(t *testing.T, dir string) Provider {
			t.Setenv("AWS_MAX_ATTEMPTS", "1")
			p, err := AssumeRole(Static(leakKeyID, leakSecret, leakToken), AssumeRoleOptions{RoleARN: roleARN, Region: "us-east-1",
				Endpoint: "http://" + closedAddr(t) + "/?X-Amz-Security-Token=" + leakShortS})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, []string{"assume role " + roleARN, "STS AssumeRole: cannot connect to 127.0.0.1", "connection refused"}},
		{"assume role: the base credentials fail", func(t *testing.T, dir string) Provider {
			base := NewCache(namedFailing{errors.New("raw text " + leakSecret)}, CacheOptions{})
			p, err := AssumeRole(base, AssumeRoleOptions{RoleARN: roleARN, Region: "us-east-1", Endpoint: "http://" + closedAddr(t)})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, []string{"assume role " + roleARN, "base credentials failed", "named-failing", "*errors.errorString"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolateEnv(t)
			var logs bytes.Buffer
			c := NewCache(tt.source(t, dir), CacheOptions{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			_, err := c.Retrieve(context.Background())
			if err == nil {
				t.Fatal("Retrieve succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var se *SourceError
			if !errors.As(err, &se) {
				t.Errorf("error %v (%T) is not a *SourceError", err, err)
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				t.Errorf("the raw *url.Error is reachable through %v", err)
			}
			assertNoLeak(t, "the error", err.Error())
			assertNoLeak(t, "the error (%+v)", fmt.Sprintf("%+v %#v", err, err))
			if logs.Len() == 0 {
				t.Error("the failure was not logged")
			}
			assertNoLeak(t, "the log", logs.String())
		})
	}
}

func mustFromSource(t *testing.T, spec SourceSpec) Provider {
	t.Helper()
	p, err := FromSource(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScrubMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"User: arn:aws:iam::123456789012:user/base is not authorized to perform: sts:AssumeRole",
			"User: arn:aws:iam::123456789012:user/base is not authorized to perform: sts:AssumeRole"},
		{"token " + leakToken + " refused", "token <redacted> refused"},
		{"sig 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "sig <redacted>"},
		{"multi\n  line\tmessage", "multi line message"},
		{strings.Repeat("word ", 100), strings.TrimSpace(strings.Repeat("word ", 60)) + "…"},
	}
	for _, tt := range tests {
		if got := scrubMessage(tt.in); got != tt.want {
			t.Errorf("scrubMessage(%.40q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := scrubMessage("the token abc.def.ghi is bad", "abc.def.ghi"); strings.Contains(got, "abc.def") {
		t.Errorf("a known secret survives: %q", got)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}
