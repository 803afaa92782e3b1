package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signway/signway/internal/testenv"
)

// unsignedJWT is a token moto's STS accepts for AssumeRoleWithWebIdentity
// (it does not check the signature; real STS does, against the IdP).
func unsignedJWT(sub string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc(fmt.Appendf(nil, `{"sub":%q,"aud":"signway","iss":"https://idp.example","exp":%d}`, sub, exp.Unix())) + "." + enc([]byte("sig"))
}

var credentialRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

func TestPerCallerWebIdentityThroughMoto(t *testing.T) {
	moto := testenv.Moto(t)
	var mu sync.Mutex
	var keys []string
	var tokensSeen int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		keys = append(keys, m[1])
		if strings.Contains(r.Header.Get("Authorization"), "Bearer") || r.Header.Get("X-Id-Token") != "" {
			tokensSeen++
		}
		io.WriteString(w, m[1])
	}))
	defer up.Close()
	path := writeConfig(t, fmt.Sprintf("listen: {address: 127.0.0.1:%d}\nutility: {address: 127.0.0.1:%d}\n", testenv.FreePort(t), testenv.FreePort(t))+`
routes:
  - name: fn
    url: `+up.URL+`
    service: lambda
    region: us-east-2
    credentials:
      source: caller_web_identity
      web_identity:
        account_id: "123456789012"
        role_name: fn-callers
        token_header: X-Id-Token
        sts_endpoint: `+moto.Endpoint+`
`)
	proxyURL, _, _, _, logs := startRunAs(t, "", "", "--config", path)
	call := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, proxyURL+"/", strings.NewReader(`{"hello":"world"}`))
		if token != "" {
			req.Header.Set("X-Id-Token", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	exp := time.Now().Add(time.Hour)
	alice, bob := unsignedJWT("alice", exp), unsignedJWT("bob", exp)
	codeA, keyA := call(alice)
	codeB, keyB := call(bob)
	codeA2, keyA2 := call(alice)
	if codeA != 200 || codeB != 200 || codeA2 != 200 {
		t.Fatalf("statuses %d %d %d: %s %s\n%s", codeA, codeB, codeA2, keyA, keyB, logs.String())
	}
	if !strings.HasPrefix(keyA, "ASIA") || keyA == keyB || keyA != keyA2 {
		t.Fatalf("keys alice=%s bob=%s alice again=%s: want temporary keys, one per caller, reused for the same caller", keyA, keyB, keyA2)
	}
	for _, tt := range []struct {
		token string
		want  int
	}{{"", 401}, {"not-a-jwt", 401}, {unsignedJWT("carol", time.Now().Add(-time.Hour)), 401}} {
		if code, body := call(tt.token); code != tt.want {
			t.Errorf("token %.20q: %d %s, want %d", tt.token, code, body, tt.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 3 || tokensSeen != 0 {
		t.Errorf("upstream saw %d requests (want 3) and %d caller tokens (want 0)", len(keys), tokensSeen)
	}
	if strings.Contains(logs.String(), alice) {
		t.Error("a caller's token reached the logs")
	}
}
