package credentials

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signway/signway/internal/testenv"
)

// fakeJWT is an unsigned JWT with exp and sub claims: moto's STS accepts
// any, as real STS would after checking the signature with the identity
// provider.
func fakeJWT(t *testing.T, exp time.Time, sub string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." +
		enc(map[string]any{"iss": "https://idp.example", "aud": "sts.amazonaws.com", "sub": sub, "exp": exp.Unix()}) +
		".c2lnbmF0dXJl"
}

func webIdentityCalls(t *testing.T, calls func() []stsCall) int {
	t.Helper()
	c := calls()
	for _, call := range c {
		if call.action != "AssumeRoleWithWebIdentity" || call.roleARN != roleARN || call.signedBy != "" {
			t.Errorf("STS call %+v, want an unsigned AssumeRoleWithWebIdentity for %s", call, roleARN)
		}
	}
	return len(c)
}

func TestCallerWebIdentityCredentialsMoto(t *testing.T) {
	moto := startMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	newW := func(t *testing.T, size int) (*CallerWebIdentity, *fakeClock, func() []stsCall, *testenv.LockedBuffer) {
		isolateEnv(t)
		setEnvKeys(t) // must not be used: the call is anonymous
		endpoint, calls := recordingProxy(t, moto)
		clock := &fakeClock{t: time.Now()}
		logs := &testenv.LockedBuffer{}
		w, err := NewCallerWebIdentity(CallerWebIdentityOptions{
			AccountID: "123456789012", RoleName: "test", STSRegion: "us-east-1", STSEndpoint: endpoint,
			CacheSize: size, Clock: clock.Now, Jitter: fixedJitter(0),
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		if err != nil {
			t.Fatal(err)
		}
		if w.RoleARN() != roleARN {
			t.Fatalf("RoleARN() = %s, want %s", w.RoleARN(), roleARN)
		}
		return w, clock, calls, logs
	}
	retrieve := func(t *testing.T, w *CallerWebIdentity, tok string) Credentials {
		t.Helper()
		c, err := w.Retrieve(ctx, tok)
		if err != nil {
			t.Fatalf("Retrieve: %v", err)
		}
		return c
	}

	t.Run("each caller gets its own credentials, cached", func(t *testing.T) {
		w, clock, calls, logs := newW(t, 0)
		alice := fakeJWT(t, clock.Now().Add(time.Hour), "alice")
		bob := fakeJWT(t, clock.Now().Add(time.Hour), "bob")
		a1, b1 := retrieve(t, w, alice), retrieve(t, w, bob)
		a2, b2 := retrieve(t, w, alice), retrieve(t, w, bob)
		if a1.AccessKeyID == b1.AccessKeyID || a1.SecretAccessKey == b1.SecretAccessKey {
			t.Errorf("alice and bob share credentials %s", a1.AccessKeyID)
		}
		if a2 != a1 || b2 != b1 {
			t.Errorf("second calls returned %s, %s; want the cached %s, %s", a2.AccessKeyID, b2.AccessKeyID, a1.AccessKeyID, b1.AccessKeyID)
		}
		if n := webIdentityCalls(t, calls); n != 2 {
			t.Errorf("STS calls = %d, want 2", n)
		}
		if !tempKeyID.MatchString(a1.AccessKeyID) || a1.Source != "AssumeRoleWithWebIdentity" || !a1.CanExpire {
			t.Errorf("got %v, want temporary credentials", a1)
		}
		if arn := callerARN(t, moto, a1); arn != "arn:aws:sts::123456789012:assumed-role/test/"+DefaultSessionName {
			t.Errorf("caller = %s, want the test role", arn)
		}

		out := logs.String()
		sum := sha256.Sum256([]byte(alice))
		if !strings.Contains(out, hex.EncodeToString(sum[:6])) {
			t.Errorf("logs lack alice's token hash prefix:\n%s", out)
		}
		for _, secret := range []string{alice, bob, strings.Split(alice, ".")[1], a1.SecretAccessKey, a1.SessionToken} {
			if strings.Contains(out, secret) {
				t.Errorf("logs contain a token or secret:\n%s", out)
			}
		}
	})

	t.Run("concurrent requests with one token share one STS call", func(t *testing.T) {
		w, clock, calls, _ := newW(t, 0)
		tok := fakeJWT(t, clock.Now().Add(time.Hour), "carol")
		keys := make([]string, 16)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Go(func() { keys[i] = retrieve(t, w, tok).AccessKeyID })
		}
		wg.Wait()
		for _, k := range keys {
			if k != keys[0] {
				t.Fatalf("concurrent callers got different keys: %v", keys)
			}
		}
		if n := webIdentityCalls(t, calls); n != 1 {
			t.Errorf("STS calls = %d, want 1", n)
		}
	})

	t.Run("an entry ends when the token expires", func(t *testing.T) {
		w, clock, calls, _ := newW(t, 0)
		tok := fakeJWT(t, clock.Now().Add(10*time.Minute), "dave")
		first := retrieve(t, w, tok)
		clock.Advance(9 * time.Minute)
		if got := retrieve(t, w, tok); got != first {
			t.Errorf("before the token's exp: got %s, want the cached %s", got.AccessKeyID, first.AccessKeyID)
		}
		// New credentials would end at the token's exp too: nothing is
		// refreshed in the background (wait for any that was started).
		w.wait()
		clock.Advance(2 * time.Minute)
		_, err := w.Retrieve(ctx, tok)
		var te *TokenError
		if !errors.As(err, &te) || !te.Expired || !IsCallerError(err) {
			t.Errorf("after the token's exp: err = %v, want an expired *TokenError", err)
		}
		if n := webIdentityCalls(t, calls); n != 1 {
			t.Errorf("STS calls = %d, want 1", n)
		}
	})

	t.Run("inside the refresh margin the credentials are refreshed in the background", func(t *testing.T) {
		w, clock, calls, _ := newW(t, 0)
		tok := fakeJWT(t, clock.Now().Add(3*time.Hour), "erin")
		first := retrieve(t, w, tok)
		clock.Advance(first.Expires.Sub(clock.Now()) - DefaultRefreshBefore - time.Second)
		if got := retrieve(t, w, tok); got != first {
			t.Errorf("just outside the margin: got %s, want the cached %s", got.AccessKeyID, first.AccessKeyID)
		}
		w.wait()
		if n := webIdentityCalls(t, calls); n != 1 {
			t.Errorf("outside the margin: STS calls = %d, want 1", n)
		}
		clock.Advance(2 * time.Second)
		if got := retrieve(t, w, tok); got != first {
			t.Errorf("inside the margin: got %s, want the cached %s while the refresh runs", got.AccessKeyID, first.AccessKeyID)
		}
		w.wait()
		if got := retrieve(t, w, tok); got.AccessKeyID == first.AccessKeyID {
			t.Errorf("after the refresh: got the old %s again", got.AccessKeyID)
		}
		if n := webIdentityCalls(t, calls); n != 2 {
			t.Errorf("STS calls = %d, want 2", n)
		}
	})

	t.Run("the cache is bounded, least recently used out first", func(t *testing.T) {
		w, clock, calls, _ := newW(t, 2)
		tok := func(sub string) string { return fakeJWT(t, clock.Now().Add(time.Hour), sub) }
		one, two, three := tok("one"), tok("two"), tok("three")
		c1 := retrieve(t, w, one)
		retrieve(t, w, two)
		retrieve(t, w, one) // one is now more recent than two
		retrieve(t, w, three)
		if n := w.cached(); n != 2 {
			t.Errorf("cached = %d, want 2", n)
		}
		if n := webIdentityCalls(t, calls); n != 3 {
			t.Errorf("STS calls = %d, want 3", n)
		}
		if got := retrieve(t, w, one); got != c1 {
			t.Errorf("one was evicted, want two evicted instead")
		}
		retrieve(t, w, two)
		if n := webIdentityCalls(t, calls); n != 4 {
			t.Errorf("STS calls = %d, want 4 (two was evicted)", n)
		}
	})

	t.Run("unusable tokens never reach STS", func(t *testing.T) {
		w, clock, calls, _ := newW(t, 0)
		for name, tok := range map[string]string{
			"expired":         fakeJWT(t, clock.Now().Add(-time.Second), "frank"),
			"empty":           "",
			"not a JWT":       "opaque-token",
			"payload not b64": "a.%%%.c",
		} {
			_, err := w.Retrieve(ctx, tok)
			var te *TokenError
			if !errors.As(err, &te) || (name == "expired") != te.Expired {
				t.Errorf("%s: err = %v, want *TokenError (expired: %v)", name, err, name == "expired")
			}
		}
		if n := webIdentityCalls(t, calls); n != 0 {
			t.Errorf("STS calls = %d, want 0", n)
		}
	})
}

// stsErrorServer answers every call with an STS error and counts the calls.
func stsErrorServer(t *testing.T, status int, code, msg string) (string, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>
  <RequestId>4b4c6a77-0000-0000-0000-000000000001</RequestId>
</ErrorResponse>`, code, msg)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func TestCallerWebIdentityCredentialsErrors(t *testing.T) {
	tok := fakeJWT(t, time.Now().Add(time.Hour), "mallory")
	retrieve := func(t *testing.T, endpoint string) error {
		t.Helper()
		isolateEnv(t)
		w, err := NewCallerWebIdentity(CallerWebIdentityOptions{RoleARN: roleARN, STSEndpoint: endpoint})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Retrieve(context.Background(), tok)
		if err == nil {
			t.Fatal("Retrieve succeeded, want an error")
		}
		if strings.Contains(err.Error(), tok) {
			t.Errorf("error contains the token: %v", err)
		}
		return err
	}

	for _, tt := range []struct {
		status    int
		code, msg string
	}{
		{400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider"},
		{400, "ExpiredTokenException", "Token expired: current date/time 1700000000 must be before the expiration date/time 1690000000"},
		{403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
	} {
		t.Run(tt.code, func(t *testing.T) {
			endpoint, calls := stsErrorServer(t, tt.status, tt.code, tt.msg)
			err := retrieve(t, endpoint)
			var se *STSError
			if !errors.As(err, &se) || se.Code != tt.code || se.Message != tt.msg || se.StatusCode != tt.status {
				t.Fatalf("err = %#v, want *STSError{%s, %q, %d}", err, tt.code, tt.msg, tt.status)
			}
			if !IsCallerError(err) {
				t.Error("IsCallerError = false for an STS 4xx")
			}
			// A caller's bad token is not retried: that would multiply STS
			// calls by whatever a caller sends.
			if n := calls.Load(); n != 1 {
				t.Errorf("STS calls = %d, want 1", n)
			}
		})
	}

	t.Run("STS unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		t.Setenv("AWS_MAX_ATTEMPTS", "1")
		err := retrieve(t, srv.URL)
		var se *STSError
		var ue *UnavailableError
		if errors.As(err, &se) || !errors.As(err, &ue) || IsCallerError(err) {
			t.Fatalf("err = %v, want *UnavailableError and no *STSError", err)
		}
		if !strings.Contains(ue.Source, roleARN) {
			t.Errorf("UnavailableError source %q does not name the role", ue.Source)
		}
	})
}

func TestCallerWebIdentityCredentialsOptions(t *testing.T) {
	ok := []struct {
		opts CallerWebIdentityOptions
		want string
	}{
		{CallerWebIdentityOptions{RoleARN: roleARN}, roleARN},
		{CallerWebIdentityOptions{AccountID: "123456789012", RoleName: "team/reader"}, "arn:aws:iam::123456789012:role/team/reader"},
		{CallerWebIdentityOptions{AccountID: "123456789012", RoleName: "r", STSRegion: "cn-north-1"}, "arn:aws-cn:iam::123456789012:role/r"},
		{CallerWebIdentityOptions{AccountID: "123456789012", RoleName: "r", STSRegion: "us-gov-west-1"}, "arn:aws-us-gov:iam::123456789012:role/r"},
	}
	for _, tt := range ok {
		isolateEnv(t)
		w, err := NewCallerWebIdentity(tt.opts)
		if err != nil || w.RoleARN() != tt.want {
			t.Errorf("%+v: got %v, %v; want %s", tt.opts, w, err, tt.want)
		}
	}
	bad := []struct {
		opts CallerWebIdentityOptions
		want string
	}{
		{CallerWebIdentityOptions{}, "account ID"},
		{CallerWebIdentityOptions{RoleARN: "arn:aws:s3:::bucket"}, "not arn:PARTITION:iam"},
		{CallerWebIdentityOptions{RoleARN: roleARN, AccountID: "123456789012"}, "not both"},
		{CallerWebIdentityOptions{AccountID: "1234", RoleName: "r"}, "12 digits"},
		{CallerWebIdentityOptions{AccountID: "123456789012", RoleName: "bad role"}, "role name"},
		{CallerWebIdentityOptions{RoleARN: roleARN, Duration: time.Minute}, "15m"},
	}
	for _, tt := range bad {
		if _, err := NewCallerWebIdentity(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want it to contain %q", tt.opts, err, tt.want)
		}
	}
}

func TestTokenExpiryCredentials(t *testing.T) {
	exp := time.Unix(1900000000, 0)
	got, err := tokenExpiry(fakeJWT(t, exp, "x"))
	if err != nil || !got.Equal(exp) {
		t.Errorf("tokenExpiry = %s, %v; want %s", got, err, exp)
	}
	noExp := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + ".s"
	if got, err := tokenExpiry(noExp); err != nil || !got.IsZero() {
		t.Errorf("no exp: %s, %v; want zero, nil", got, err)
	}
	padded := "h." + base64.URLEncoding.EncodeToString([]byte(`{"exp":1900000000.5}`)) + ".s"
	if got, err := tokenExpiry(padded); err != nil || !got.Equal(exp.Add(500*time.Millisecond)) {
		t.Errorf("padded, fractional exp: %s, %v", got, err)
	}
	for _, bad := range []string{"h." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":"soon"}`)) + ".s",
		"h." + base64.RawURLEncoding.EncodeToString([]byte(`[1]`)) + ".s", "h..s"} {
		var te *TokenError
		if _, err := tokenExpiry(bad); !errors.As(err, &te) {
			t.Errorf("tokenExpiry(%q): err = %v, want *TokenError", bad, err)
		}
	}
}
