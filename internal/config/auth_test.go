package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func authEnv(name string) (string, bool) {
	switch name {
	case "K1":
		return "key-one", true
	case "K2":
		return "key-two", true
	case "SECRET":
		return "s3cr3t", true
	}
	return "", false
}

const issueExample = `
callers:
  - id: reporting
    api_keys: ["${K1}"]
    rate_limit: {requests_per_second: 20, burst: 40}
  - id: agent-7
    sigv4_keys:
      - access_key_id: SWAYAGENT7EXAMPLE
        secret_access_key: ${SECRET}
    credentials:
      assume_role: {role_arn: arn:aws:iam::123456789012:role/agent-7}
  - id: hashed
    api_keys: [{sha256: %s}]
    rate_limit: {requests_per_second: 0.5}
routes:
  - name: data
    url: https://my-bucket.s3.us-east-1.amazonaws.com
    auth:
      methods: [api_key, sigv4, jwt]
      api_key_header: api-key
      jwt: {issuer: https://issuer.example, audiences: [signway], jwks_file: /etc/signway/jwks.json, caller_claim: sub}
      allow: [reporting, agent-7, user-42]
`

// TestAuthConfigFromIssue loads the issue's example as written and checks
// what each name became.
func TestAuthConfigFromIssue(t *testing.T) {
	sum := sha256.Sum256([]byte("key-two"))
	cfg, err := Parse([]byte(strings.Replace(issueExample, "%s", hex.EncodeToString(sum[:]), 1)), authEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Callers) != 3 {
		t.Fatalf("callers = %d", len(cfg.Callers))
	}
	rep, agent, hashed := cfg.Callers[0], cfg.Callers[1], cfg.Callers[2]
	if d, err := rep.APIKeys[0].Digest(); err != nil || d != sha256.Sum256([]byte("key-one")) {
		t.Errorf("reporting key digest = %x, %v", d, err)
	}
	if d, err := hashed.APIKeys[0].Digest(); err != nil || d != sum {
		t.Errorf("hashed key digest = %x, %v", d, err)
	}
	if rep.RateLimit != (RateLimit{20, 40}) || hashed.RateLimit != (RateLimit{0.5, 1}) {
		t.Errorf("rate limits = %+v %+v", rep.RateLimit, hashed.RateLimit)
	}
	if v, _ := agent.SigV4Keys[0].SecretAccessKey.Value(); agent.SigV4Keys[0].AccessKeyID != "SWAYAGENT7EXAMPLE" || v != "s3cr3t" {
		t.Errorf("sigv4 key = %+v", agent.SigV4Keys[0])
	}
	if agent.Credentials.AssumeRole == nil || agent.Credentials.Source != SourceDefault {
		t.Errorf("agent credentials = %+v", agent.Credentials)
	}
	a := cfg.Routes[0].Auth
	if !a.Enabled() || !a.Accepts(AuthSigV4) || a.APIKeyHeader != "api-key" || a.JWT.CallerClaim != "sub" ||
		a.JWT.Leeway != DefaultJWTLeeway || len(a.JWT.Algorithms) != len(JWTAlgorithms) || len(a.Allow) != 3 {
		t.Errorf("auth = %+v", a)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "key-one") || strings.Contains(string(out), "s3cr3t") {
		t.Errorf("marshalled config shows a secret:\n%s", out)
	}
}

func TestAuthDefaultsInherit(t *testing.T) {
	cfg, err := Parse([]byte(`
callers: [{id: a, api_keys: ["${K1}"]}]
defaults: {auth: {methods: [api_key]}}
routes:
  - {name: r, url: "https://b.s3.us-east-1.amazonaws.com"}
  - {name: open, url: "https://c.s3.us-east-1.amazonaws.com", match: {path_prefix: /open}, auth: {methods: [none]}}
hosts:
  - {host: "d.s3.us-east-1.amazonaws.com"}
`), authEnv)
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Routes[0].Auth; !a.Accepts(AuthAPIKey) || a.APIKeyHeader != DefaultAPIKeyHeader {
		t.Errorf("route auth = %+v", a)
	}
	if cfg.Routes[1].Auth.Enabled() {
		t.Errorf("methods [none] is enabled: %+v", cfg.Routes[1].Auth)
	}
	if !cfg.Hosts[0].Auth.Accepts(AuthAPIKey) {
		t.Errorf("host auth = %+v", cfg.Hosts[0].Auth)
	}
}

func TestAuthProblems(t *testing.T) {
	const r = "routes:\n  - name: r\n    url: https://b.s3.us-east-1.amazonaws.com\n"
	for _, tc := range []struct{ name, yml, want string }{
		{"inline api key", "callers: [{id: a, api_keys: [plain-key]}]\n" + r, `callers[0].api_keys[0] (line 1): must be a reference`},
		{"bad sha256", "callers: [{id: a, api_keys: [{sha256: abc}]}]\n" + r, "callers[0].api_keys[0].sha256 (line 1): must be the 64 hex digits"},
		{"inline sigv4 secret", "callers: [{id: a, sigv4_keys: [{access_key_id: SWAYAEXAMPLE0001, secret_access_key: hunter2}]}]\n" + r, "callers[0].sigv4_keys[0].secret_access_key (line 1): must be a reference"},
		{"duplicate key id", "callers:\n  - {id: a, sigv4_keys: [{access_key_id: SWAYAEXAMPLE0001, secret_access_key: '${SECRET}'}]}\n  - {id: b, sigv4_keys: [{access_key_id: SWAYAEXAMPLE0001, secret_access_key: '${SECRET}'}]}\n" + r,
			`callers[1].sigv4_keys[0].access_key_id (line 3): "SWAYAEXAMPLE0001" is already used by callers[0].sigv4_keys[0]`},
		{"duplicate api key", "callers:\n  - {id: a, api_keys: ['${K1}']}\n  - {id: b, api_keys: ['${K1}']}\n" + r, "callers[1].api_keys[0] (line 3): the same key as callers[0].api_keys[0]"},
		{"duplicate api key hashed", "callers:\n  - {id: a, api_keys: ['${K1}']}\n  - {id: b, api_keys: [{sha256: " + hexSum("key-one") + "}]}\n" + r, "the same key as callers[0].api_keys[0]"},
		{"duplicate caller", "callers: [{id: a, api_keys: ['${K1}']}, {id: a, api_keys: ['${K2}']}]\n" + r, `callers[1].id (line 1): "a" is already the id of callers[0]`},
		{"missing id", "callers: [{api_keys: ['${K1}']}]\n" + r, "callers[0].id (line 1): required"},
		{"bad key id", "callers: [{id: a, sigv4_keys: [{access_key_id: short, secret_access_key: '${SECRET}'}]}]\n" + r, `callers[0].sigv4_keys[0].access_key_id (line 1): "short" must be 16-128`},
		{"empty caller", "callers: [{id: a}]\n" + r, `callers[0] (line 1): caller "a" has no api_keys`},
		{"burst without rate", "callers: [{id: a, api_keys: ['${K1}'], rate_limit: {burst: 3}}]\n" + r, "callers[0].rate_limit.requests_per_second (line 1): required with burst"},
		{"bad rate", "callers: [{id: a, api_keys: ['${K1}'], rate_limit: {requests_per_second: fast}}]\n" + r, `callers[0].rate_limit.requests_per_second (line 1): "fast" is not a number`},
		{"certificate without CA", "callers: [{id: a, certificate: {subject: CN=a}}]\n" + r, "callers[0].certificate (line 1): needs listen.tls.client_ca_file"},
		{"caller web identity", "callers: [{id: a, api_keys: ['${K1}'], credentials: {source: caller_web_identity, web_identity: {role_arn: 'arn:aws:iam::123456789012:role/r'}}}]\n" + r, "callers[0].credentials.web_identity (line 1): a caller's own credentials cannot be"},
		{"caller bad role", "callers: [{id: a, api_keys: ['${K1}'], credentials: {assume_role: {role_arn: nope}}}]\n" + r, `callers[0].credentials.assume_role.role_arn (line 1): "nope" is not a role ARN`},
		{"allow matches nobody", r + "    auth: {methods: [api_key], allow: [ghost]}\n", `routes[0].auth.allow[0] (line 4): "ghost" is not declared in callers and this route does not accept jwt`},
		{"allow without methods", r + "    auth: {allow: [a]}\n", "routes[0].auth.allow (line 4): has no effect without auth.methods"},
		{"jwt incomplete", r + "    auth: {methods: [jwt]}\n", "routes[0].auth.jwt.issuer (line 4): required with method jwt"},
		{"jwt no keys", r + "    auth: {methods: [jwt], jwt: {issuer: i, audiences: [a]}}\n", "routes[0].auth.jwt.jwks_file (line 4): required with method jwt"},
		{"jwt hmac", r + "    auth: {methods: [jwt], jwt: {issuer: i, audiences: [a], jwks_file: f, algorithms: [HS256]}}\n", `routes[0].auth.jwt.algorithms[0] (line 4): "HS256" is not one of`},
		{"jwt none alg", r + "    auth: {methods: [jwt], jwt: {issuer: i, audiences: [a], jwks_file: f, algorithms: [none]}}\n", `"none" is not one of`},
		{"jwt both sources", r + "    auth: {methods: [jwt], jwt: {issuer: i, audiences: [a], jwks_file: f, jwks_url: 'https://i/jwks'}}\n", "routes[0].auth.jwt.jwks_url (line 4): give jwks_file or jwks_url, not both"},
		{"jwt unused", r + "    auth: {methods: [api_key], jwt: {issuer: i}}\n", "routes[0].auth.jwt (line 4): only used when methods includes jwt"},
		{"none with others", r + "    auth: {methods: [none, api_key]}\n", "routes[0].auth.methods[0] (line 4): none cannot be combined"},
		{"mtls without CA", r + "    auth: {methods: [mtls]}\n", "routes[0].auth.methods (line 4): mtls needs listen.tls.client_ca_file"},
		{"api key in Authorization", r + "    auth: {methods: [api_key, sigv4], api_key_header: Authorization}\n", "routes[0].auth.api_key_header (line 4): Authorization also carries SigV4"},
		{"bad store", "rate_limits: {store: 'http://x:1'}\n" + r, `rate_limits.store (line 1): "http://x:1" must be redis://HOST:PORT`},
		{"store without port", "rate_limits: {store: 'redis://x'}\n" + r, "rate_limits.store (line 1): \"redis://x\" needs a port"},
		{"bad fail mode", "rate_limits: {store: 'redis://x:1', on_store_error: maybe}\n" + r, `rate_limits.on_store_error (line 1): "maybe" is not open or closed`},
		{"client CA without TLS", "listen: {tls: {client_ca_file: ca.pem}}\n" + r, "listen.tls.client_ca_file (line 1): client certificates need TLS"},
		{"host entry allow", "hosts:\n  - host: b.s3.us-east-1.amazonaws.com\n    auth: {methods: [sigv4], allow: [ghost]}\n", `hosts[0].auth.allow[0] (line 3): "ghost" is not declared in callers`},
		{"defaults bad method", "defaults: {auth: {methods: [basic]}}\n" + r, `defaults.auth.methods[0] (line 1): "basic" is not one of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yml), authEnv)
			var pe *ProblemsError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want problems", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("problems:\n%v\nwant one containing %q", err, tc.want)
			}
			for _, secret := range []string{"plain-key", "hunter2", "key-one", "s3cr3t"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("problem shows the secret %q: %v", secret, err)
				}
			}
		})
	}
}

// TestAllowJWTCallers: on a route that accepts JWT, an allow entry may be
// any token's caller claim.
func TestAllowJWTCallers(t *testing.T) {
	_, err := Parse([]byte(`routes:
  - name: r
    url: https://b.s3.us-east-1.amazonaws.com
    auth: {methods: [jwt], jwt: {issuer: i, audiences: [a], jwks_file: f}, allow: [user-42]}
`), authEnv)
	if err != nil {
		t.Fatal(err)
	}
}

// TestAPIKeyFileDigest reads a {file:} key when the digest is asked for,
// never during Validate.
func TestAPIKeyFileDigest(t *testing.T) {
	f := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := APIKey{Key: FileSecret(f)}
	if d, err := k.Digest(); err != nil || d != sha256.Sum256([]byte("from-file")) {
		t.Errorf("digest = %x, %v", d, err)
	}
	if _, err := (APIKey{Key: FileSecret(f + ".missing")}).Digest(); err == nil {
		t.Error("a missing key file gave a digest")
	}
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
