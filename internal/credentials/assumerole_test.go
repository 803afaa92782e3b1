package credentials

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	baseKeyID  = "AKIAIOSFODNN7EXAMPLE"
	baseSecret = "base-secret-do-not-log"
	roleARN    = "arn:aws:iam::123456789012:role/test"
)

var tempKeyID = regexp.MustCompile(`^ASIA[A-Z0-9]{16}$`)

// checkTemporary verifies credentials look like what STS issues for a role
// session of duration d.
func checkTemporary(t *testing.T, c Credentials, d time.Duration) {
	t.Helper()
	if !tempKeyID.MatchString(c.AccessKeyID) {
		t.Errorf("AccessKeyID = %q, want ASIA followed by 16 characters", c.AccessKeyID)
	}
	if c.SecretAccessKey == "" || c.SessionToken == "" {
		t.Error("secret or session token empty")
	}
	if c.Source != "AssumeRoleProvider" {
		t.Errorf("Source = %q, want AssumeRoleProvider", c.Source)
	}
	if left := time.Until(c.Expires); !c.CanExpire || left < d-time.Minute || left > d+time.Minute {
		t.Errorf("CanExpire = %v, expires in %s, want about %s", c.CanExpire, left, d)
	}
}

// stsCall is what recordingProxy saw of one STS request.
type stsCall struct{ action, roleARN, signedBy string }

// recordingProxy forwards to target and records who signed each request for
// what, to show which credentials a role chain used for each hop.
func recordingProxy(t *testing.T, target string) (string, func() []stsCall) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	var calls []stsCall
	credRe := regexp.MustCompile(`Credential=([A-Z0-9]+)/`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		c := stsCall{action: form.Get("Action"), roleARN: form.Get("RoleArn")}
		if m := credRe.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			c.signedBy = m[1]
		}
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []stsCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]stsCall(nil), calls...)
	}
}

func TestAssumeRoleMoto(t *testing.T) {
	moto := startMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := Static(baseKeyID, baseSecret, "")

	t.Run("endpoint option", func(t *testing.T) {
		isolateEnv(t)
		p, err := AssumeRole(base, AssumeRoleOptions{
			RoleARN:        roleARN,
			Duration:       20 * time.Minute,
			ExternalID:     "ext-1",
			SourceIdentity: "alice",
			Tags:           map[string]string{"team": "edge", "caller": "alice"},
			Region:         "eu-west-1",
			Endpoint:       moto,
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Retrieve(ctx)
		if err != nil {
			t.Fatalf("Retrieve: %v", err)
		}
		checkTemporary(t, got, 20*time.Minute)
		if arn := callerARN(t, moto, got); arn != "arn:aws:sts::123456789012:assumed-role/test/"+DefaultSessionName {
			t.Errorf("caller = %s, want the test role with session name %s", arn, DefaultSessionName)
		}
	})

	t.Run("role chaining", func(t *testing.T) {
		isolateEnv(t)
		endpoint, calls := recordingProxy(t, moto)
		first, err := AssumeRole(base, AssumeRoleOptions{RoleARN: roleARN, Endpoint: endpoint})
		if err != nil {
			t.Fatal(err)
		}
		const secondARN = "arn:aws:iam::210987654321:role/second"
		second, err := AssumeRole(first, AssumeRoleOptions{RoleARN: secondARN, SessionName: "chained", Endpoint: endpoint})
		if err != nil {
			t.Fatal(err)
		}
		got, err := second.Retrieve(ctx)
		if err != nil {
			t.Fatalf("Retrieve: %v", err)
		}
		checkTemporary(t, got, 15*time.Minute) // the SDK's default duration
		if arn := callerARN(t, moto, got); arn != "arn:aws:sts::210987654321:assumed-role/second/chained" {
			t.Errorf("caller = %s, want the second role", arn)
		}
		c := calls()
		if len(c) != 2 || c[0].roleARN != roleARN || c[0].signedBy != baseKeyID ||
			c[1].roleARN != secondARN || !tempKeyID.MatchString(c[1].signedBy) || c[1].signedBy == got.AccessKeyID {
			t.Errorf("STS calls = %+v, want %s signed by %s, then %s signed by the first role's ASIA key", c, roleARN, baseKeyID, secondARN)
		}
	})

	t.Run("AWS_ENDPOINT_URL_STS with DefaultChain as base", func(t *testing.T) {
		isolateEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", baseKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", baseSecret)
		t.Setenv("AWS_REGION", "us-east-1")
		t.Setenv("AWS_ENDPOINT_URL_STS", moto)
		chain, err := DefaultChain(ctx, ChainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := AssumeRole(chain, AssumeRoleOptions{RoleARN: roleARN, Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Retrieve(ctx)
		if err != nil {
			t.Fatalf("Retrieve: %v", err)
		}
		checkTemporary(t, got, time.Hour)
	})

	t.Run("AWS_ENDPOINT_URL_STS with a role_arn profile in DefaultChain", func(t *testing.T) {
		dir := isolateEnv(t)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, filepath.Join(dir, "credentials"),
			fmt.Sprintf("[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n", baseKeyID, baseSecret), 0o600))
		t.Setenv("AWS_CONFIG_FILE", writeFile(t, filepath.Join(dir, "config"),
			"[profile app]\nrole_arn = "+roleARN+"\nsource_profile = base\nduration_seconds = 1800\nregion = us-east-1\n", 0o600))
		t.Setenv("AWS_PROFILE", "app")
		t.Setenv("AWS_ENDPOINT_URL_STS", moto)
		chain, err := DefaultChain(ctx, ChainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := chain.Retrieve(ctx)
		if err != nil {
			t.Fatalf("Retrieve: %v", err)
		}
		checkTemporary(t, got, 30*time.Minute)
	})

	t.Run("cached: one STS call for many requests", func(t *testing.T) {
		isolateEnv(t)
		endpoint, calls := recordingProxy(t, moto)
		p, err := AssumeRole(base, AssumeRoleOptions{RoleARN: roleARN, Endpoint: endpoint})
		if err != nil {
			t.Fatal(err)
		}
		c := NewCache(p, CacheOptions{})
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if _, err := c.Retrieve(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := len(calls()); n != 1 {
			t.Errorf("STS calls = %d, want 1", n)
		}
		if !c.Ready() {
			t.Error("Ready() = false")
		}
	})
}

func TestAssumeRoleErrors(t *testing.T) {
	closedPort := func(t *testing.T) string { return "http://" + closedAddr(t) }
	accessDenied := func(t *testing.T) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/base is not authorized to perform: sts:AssumeRole on resource: %s</Message></Error>
  <RequestId>4b4c6a77-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>`, roleARN)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	baseErr := errors.New("base provider: token file unreadable")

	tests := []struct {
		name     string
		base     Provider
		endpoint func(t *testing.T) string
		wantIn   []string
		wantCode string // STS's error code
	}{
		{name: "STS unreachable", base: Static(baseKeyID, baseSecret, ""), endpoint: closedPort,
			wantIn: []string{"assume role " + roleARN, "connection refused"}},
		{name: "STS answers 403 AccessDenied", base: Static(baseKeyID, baseSecret, ""), endpoint: accessDenied,
			wantIn: []string{"assume role " + roleARN, "AccessDenied", "not authorized"}, wantCode: "AccessDenied"},
		{name: "base credentials unavailable", base: NewCache(namedFailing{baseErr}, CacheOptions{}), endpoint: accessDenied,
			wantIn: []string{"assume role " + roleARN, "base credentials failed", "named-failing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateEnv(t)
			t.Setenv("AWS_MAX_ATTEMPTS", "1") // the SDK retries refused connections otherwise
			p, err := AssumeRole(tt.base, AssumeRoleOptions{RoleARN: roleARN, Region: "us-east-1", Endpoint: tt.endpoint(t)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Retrieve(context.Background())
			if err == nil {
				t.Fatal("Retrieve succeeded, want an error")
			}
			for _, want := range tt.wantIn {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if strings.Contains(err.Error(), baseSecret) {
				t.Errorf("error leaks the base secret: %v", err)
			}
			var se *SourceError
			if !errors.As(err, &se) || se.Code != tt.wantCode {
				t.Errorf("error %v: want a *SourceError with code %q", err, tt.wantCode)
			}
		})
	}
}

func TestAssumeRoleInvalidOptions(t *testing.T) {
	base := Static(baseKeyID, baseSecret, "")
	tests := []struct {
		name string
		base Provider
		opts AssumeRoleOptions
		want string
	}{
		{"no base", nil, AssumeRoleOptions{RoleARN: roleARN}, "no base"},
		{"no role ARN", base, AssumeRoleOptions{}, "role ARN is empty"},
		{"malformed role ARN", base, AssumeRoleOptions{RoleARN: "role/test"}, `"role/test"`},
		{"negative duration", base, AssumeRoleOptions{RoleARN: roleARN, Duration: -time.Second}, "negative duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateEnv(t)
			if _, err := AssumeRole(tt.base, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
