package inbound

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/signway/signway/internal/config"
)

type issuer struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{rsa: rk, ec: ek}
}

func (is *issuer) jwks(t testing.TB, kids ...string) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &is.rsa.PublicKey, KeyID: kids[0], Algorithm: "RS256", Use: "sig"},
		{Key: &is.ec.PublicKey, KeyID: kids[1], Algorithm: "ES256", Use: "sig"},
	}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (is *issuer) token(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func stdClaims(sub string, iat time.Time) map[string]any {
	return map[string]any{"iss": "https://issuer.example", "aud": []string{"signway"}, "sub": sub,
		"exp": iat.Add(time.Hour).Unix(), "nbf": iat.Unix(), "iat": iat.Unix()}
}

func with(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

// unsigned builds a token with alg none, which no library here will sign.
func unsigned(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "kid": "r1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "."
}

func TestJWT(t *testing.T) {
	is := newIssuer(t)
	dir := t.TempDir()
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, is.jwks(t, "r1", "e1"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := t0
	j := config.JWTAuth{Issuer: "https://issuer.example", Audiences: []string{"signway"}, JWKSFile: jwksFile,
		CallerClaim: "sub", Leeway: config.Duration(30 * time.Second)}
	ks := NewKeySets(nil, nil, func() time.Time { return now }).Get(j)
	v, err := NewJWTVerifier(j, ks, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	// HMAC with the RSA public key's bytes: the algorithm-confusion attack.
	pubDER := is.rsa.PublicKey.N.Bytes()
	for _, tc := range []struct {
		name, token, caller, want string
	}{
		{"RS256", is.token(t, jose.RS256, is.rsa, "r1", stdClaims("user-42", t0)), "user-42", ""},
		{"ES256", is.token(t, jose.ES256, is.ec, "e1", stdClaims("user-43", t0)), "user-43", ""},
		{"within leeway", is.token(t, jose.RS256, is.rsa, "r1", with(stdClaims("u", t0), "nbf", t0.Add(20*time.Second).Unix())), "u", ""},
		{"expired", is.token(t, jose.RS256, is.rsa, "r1", with(stdClaims("u", t0), "exp", t0.Add(-time.Minute).Unix())), "", "expired"},
		{"not yet", is.token(t, jose.RS256, is.rsa, "r1", with(stdClaims("u", t0), "nbf", t0.Add(time.Minute).Unix())), "", "not valid yet"},
		{"no exp", is.token(t, jose.RS256, is.rsa, "r1", func() map[string]any { m := stdClaims("u", t0); delete(m, "exp"); return m }()), "", "no exp"},
		{"wrong issuer", is.token(t, jose.RS256, is.rsa, "r1", with(stdClaims("u", t0), "iss", "https://evil.example")), "", "iss"},
		{"wrong audience", is.token(t, jose.RS256, is.rsa, "r1", with(stdClaims("u", t0), "aud", "other")), "", "aud"},
		{"unknown kid", is.token(t, jose.RS256, is.rsa, "r9", stdClaims("u", t0)), "", "kid names no key"},
		{"no kid", is.token(t, jose.RS256, is.rsa, "", stdClaims("u", t0)), "", "no kid"},
		{"kid of another key", is.token(t, jose.RS256, is.rsa, "e1", stdClaims("u", t0)), "", "does not verify"},
		{"wrong key", is.token(t, jose.RS256, mustRSA(t), "r1", stdClaims("u", t0)), "", "does not verify"},
		{"alg none", unsigned(stdClaims("u", t0)), "", "accepted algorithm"},
		{"HMAC with the public key", is.token(t, jose.HS256, pubDER, "r1", stdClaims("u", t0)), "", "accepted algorithm"},
		{"no caller claim", is.token(t, jose.RS256, is.rsa, "r1", func() map[string]any { m := stdClaims("u", t0); delete(m, "sub"); return m }()), "", "no sub claim"},
		{"garbage", "not.a.token", "", "accepted algorithm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), tc.token)
			if tc.want == "" {
				if err != nil || id != tc.caller {
					t.Fatalf("id %q err %v, want %q", id, err, tc.caller)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("id %q err %v, want an error containing %q", id, err, tc.want)
			}
		})
	}

	// A verified token is remembered, but not past its exp.
	tok := is.token(t, jose.RS256, is.rsa, "r1", with(stdClaims("short", t0), "exp", t0.Add(time.Minute).Unix()))
	if id, err := v.Verify(context.Background(), tok); err != nil || id != "short" {
		t.Fatalf("short-lived token: %q %v", id, err)
	}
	now = t0.Add(2 * time.Minute)
	if _, err := v.Verify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("a remembered token past its exp: %v", err)
	}

	// Rotation: a new key set file is read when it changes (looked at once
	// a second), and tokens remembered from the old keys are checked again.
	rotated := newIssuer(t)
	os.WriteFile(jwksFile, rotated.jwks(t, "r2", "e2"), 0o600)
	future := time.Now().Add(time.Hour)
	os.Chtimes(jwksFile, future, future)
	now = now.Add(2 * time.Second)
	if id, err := v.Verify(context.Background(), rotated.token(t, jose.RS256, rotated.rsa, "r2", stdClaims("rot", t0))); err != nil || id != "rot" {
		t.Errorf("after rotation: %q %v", id, err)
	}
	if _, err := v.Verify(context.Background(), is.token(t, jose.RS256, is.rsa, "r1", stdClaims("u", t0))); err == nil {
		t.Error("a key removed from the set still verifies")
	}
}

func mustRSA(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewJWTVerifierRefusesHMAC(t *testing.T) {
	ks := NewKeySets(nil, nil, nil).Get(config.JWTAuth{JWKSFile: "x"})
	for _, alg := range []string{"HS256", "none"} {
		if _, err := NewJWTVerifier(config.JWTAuth{Algorithms: []string{alg}}, ks, nil); err == nil {
			t.Errorf("%s accepted", alg)
		}
	}
}

// TestJWKSURL: fetched once, cached, refetched after the refresh interval
// and early for an unknown kid (at most once a minute); a failed fetch
// keeps the keys it had; an oversized answer is refused.
func TestJWKSURL(t *testing.T) {
	is := newIssuer(t)
	var fetches atomic.Int32
	var body atomic.Value
	body.Store(is.jwks(t, "r1", "e1"))
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if fail.Load() {
			http.Error(w, "down", 500)
			return
		}
		w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	now := t0
	j := config.JWTAuth{Issuer: "https://issuer.example", Audiences: []string{"signway"}, JWKSURL: srv.URL, JWKSRefresh: config.Duration(15 * time.Minute)}
	ks := NewKeySets(srv.Client(), nil, func() time.Time { return now }).Get(j)
	v, _ := NewJWTVerifier(j, ks, func() time.Time { return now })
	good := is.token(t, jose.RS256, is.rsa, "r1", stdClaims("u", t0.Add(30*time.Minute)))
	verify := func(tok string) error { _, err := v.Verify(context.Background(), tok); return err }
	now = t0.Add(30 * time.Minute)
	for range 3 {
		if err := verify(good); err != nil {
			t.Fatal(err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for three tokens, want 1 (cached)", n)
	}
	unknown := is.token(t, jose.RS256, is.rsa, "r7", stdClaims("u", t0.Add(30*time.Minute)))
	verify(unknown)
	verify(unknown)
	if n := fetches.Load(); n != 1 {
		t.Errorf("unknown kid right after a fetch refetched: %d fetches", n)
	}
	now = now.Add(2 * time.Minute)
	verify(unknown)
	if n := fetches.Load(); n != 2 {
		t.Errorf("unknown kid a minute later: %d fetches, want 2", n)
	}
	fail.Store(true)
	now = now.Add(20 * time.Minute)
	if err := verify(good); err != nil {
		t.Errorf("a failed refresh dropped the keys: %v", err)
	}
	fail.Store(false)
	body.Store([]byte(`{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}`))
	now = now.Add(20 * time.Minute)
	if err := verify(good); err != nil {
		t.Errorf("an oversized answer replaced the keys: %v", err)
	}
}

// TestAuthenticateJWT: through the Authenticator, with the allow list
// naming a JWT caller by its claim.
func TestAuthenticateJWT(t *testing.T) {
	is := newIssuer(t)
	f := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(f, is.jwks(t, "r1", "e1"), 0o600)
	now := t0
	j := config.JWTAuth{Issuer: "https://issuer.example", Audiences: []string{"signway"}, JWKSFile: f}
	v, _ := NewJWTVerifier(j, NewKeySets(nil, nil, nil).Get(j), func() time.Time { return now })
	a, err := New(Options{Route: "r", Auth: config.Auth{Methods: []config.AuthMethod{config.AuthJWT}, JWT: j, Allow: []string{"user-42"}},
		Callers: testCallers(t, nil), JWT: v, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	req := func(tok string) (*Result, *Error) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return a.Authenticate(r)
	}
	if res, err := req(is.token(t, jose.RS256, is.rsa, "r1", stdClaims("user-42", t0))); err != nil || res.Caller.ID != "user-42" || res.Caller.Method != MethodJWT {
		t.Errorf("allowed: %+v %v", res, err)
	}
	if _, err := req(is.token(t, jose.RS256, is.rsa, "r1", stdClaims("user-7", t0))); err == nil || err.Status != 403 || err.Reason != ReasonNotAllowed {
		t.Errorf("not allowed: %+v", err)
	}
	_, e := req(is.token(t, jose.RS256, is.rsa, "r1", with(stdClaims("user-42", t0), "exp", t0.Add(-time.Hour).Unix())))
	if e == nil || e.Status != 401 || e.Code != "InvalidToken" || e.Challenges[0] != `Bearer realm="signway", error="invalid_token"` {
		t.Errorf("expired: %+v", e)
	}
}

// benchJWT is an issuer and a verifier of its tokens, for the benchmarks.
func benchJWT(b *testing.B) (*issuer, config.JWTAuth, *JWTVerifier) {
	is := newIssuer(b)
	f := filepath.Join(b.TempDir(), "jwks.json")
	os.WriteFile(f, is.jwks(b, "r1", "e1"), 0o600)
	j := config.JWTAuth{Issuer: "https://issuer.example", Audiences: []string{"signway"}, JWKSFile: f}
	v, _ := NewJWTVerifier(j, NewKeySets(nil, nil, nil).Get(j), func() time.Time { return t0 })
	return is, j, v
}

// BenchmarkJWT: a token's first use costs its signature check; later
// uses of the same token are served from the verified-token cache.
func BenchmarkJWT(b *testing.B) {
	is, _, v := benchJWT(b)
	for _, c := range []struct {
		name string
		tok  string
	}{{"ES256", is.token(b, jose.ES256, is.ec, "e1", stdClaims("u", t0))}, {"RS256", is.token(b, jose.RS256, is.rsa, "r1", stdClaims("u", t0))}} {
		b.Run(c.name+"/first-use", func(b *testing.B) {
			loopCPU(b, func() {
				v.cache = tokenCache{}
				if _, err := v.Verify(context.Background(), c.tok); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(c.name+"/cached", func(b *testing.B) {
			loopCPU(b, func() {
				if _, err := v.Verify(context.Background(), c.tok); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkAuthenticateJWT is the whole check a request with a (cached)
// bearer token goes through.
func BenchmarkAuthenticateJWT(b *testing.B) {
	is, j, v := benchJWT(b)
	a, err := New(Options{Route: "r", Auth: config.Auth{Methods: []config.AuthMethod{config.AuthJWT}, JWT: j}, Callers: testCallers(b, nil), JWT: v, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", "Bearer "+is.token(b, jose.ES256, is.ec, "e1", stdClaims("user-42", t0)))
	loopCPU(b, func() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	})
}
