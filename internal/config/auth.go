package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Caller authentication: who may ask signway to sign, and as whom it signs.
// The callers are declared once at the top level; each route (or the
// defaults block, or a host entry) says in its auth block which methods
// admit a caller and which callers it allows.

// Defaults of caller authentication.
const (
	DefaultAPIKeyHeader = "X-Api-Key"
	DefaultCallerClaim  = "sub"
	DefaultJWTLeeway    = Duration(30 * time.Second)
	DefaultJWKSRefresh  = Duration(15 * time.Minute)
)

// Caller is one known caller of signway: a service, a CI job, an agent.
type Caller struct {
	// ID names the caller in logs, metrics and allow lists; letters,
	// digits, '.', '_', '-', '@' and ':'. Required, unique.
	ID string `yaml:"id"`
	// APIKeys are the caller's API keys: "${ENV_VAR}", {file: PATH}, or
	// {sha256: HEX}, the hex SHA-256 of the key, so the key itself need
	// not be stored anywhere signway runs.
	APIKeys []APIKey `yaml:"api_keys"`
	// SigV4Keys are signway-issued key pairs: the caller signs with one as
	// with AWS keys (any AWS SDK or CLI, --endpoint-url of signway), and
	// signway verifies, then signs again with real credentials.
	SigV4Keys []SigV4Key `yaml:"sigv4_keys"`
	// Certificate identifies the caller by its TLS client certificate
	// (listen.tls.client_ca_file must be set).
	Certificate CallerCertificate `yaml:"certificate"`
	// RateLimit is a token bucket for this caller, on every route; none
	// when not set.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Credentials, when set, are what signway signs with for this caller,
	// instead of the route's: the caller acts as its own role. Cached per
	// caller.
	Credentials Credentials `yaml:"credentials"`
}

// APIKey is a caller's API key: a reference to it, or its SHA-256.
type APIKey struct {
	// Key is the key itself, from "${ENV_VAR}" or {file: PATH}.
	Key Secret
	// SHA256 is the lowercase hex SHA-256 of the key, from {sha256: HEX}.
	SHA256 string
}

// Digest is the key's SHA-256, however it was given; the file of a {file:}
// reference is read.
func (k APIKey) Digest() ([32]byte, error) {
	var d [32]byte
	if k.SHA256 != "" {
		b, err := hex.DecodeString(k.SHA256)
		if err != nil || len(b) != 32 {
			return d, fmt.Errorf("sha256 %q is not 64 hex digits", k.SHA256)
		}
		copy(d[:], b)
		return d, nil
	}
	v, err := k.Key.Value()
	if err != nil {
		return d, err
	}
	if v == "" {
		return d, fmt.Errorf("the API key %s is empty", k.Key)
	}
	return sha256.Sum256([]byte(v)), nil
}

// MarshalYAML writes the reference or the hash, never the key.
func (k APIKey) MarshalYAML() (any, error) {
	if k.SHA256 != "" {
		return map[string]string{"sha256": k.SHA256}, nil
	}
	return k.Key.MarshalYAML()
}

// SigV4Key is a signway-issued key pair.
type SigV4Key struct {
	// AccessKeyID is not secret and may be logged: 16-128 of A-Z and 0-9,
	// like AWS's own.
	AccessKeyID string `yaml:"access_key_id"`
	// SecretAccessKey is "${ENV_VAR}" or {file: PATH}.
	SecretAccessKey Secret `yaml:"secret_access_key"`
}

// CallerCertificate matches a verified TLS client certificate. Every field
// that is set must match.
type CallerCertificate struct {
	// Subject is the certificate's subject as Go writes a distinguished
	// name, e.g. "CN=reporting,O=Example".
	Subject string `yaml:"subject"`
	// SAN is one subject alternative name the certificate must hold: a
	// DNS name, a URI (spiffe://...), an email address or an IP address.
	SAN string `yaml:"san"`
}

// IsZero reports whether no certificate identifies the caller.
func (c CallerCertificate) IsZero() bool { return c.Subject == "" && c.SAN == "" }

// RateLimit is a token bucket.
type RateLimit struct {
	// RequestsPerSecond is the long-run rate; may be fractional (0.5).
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// Burst is how many requests may come at once; default the rate
	// rounded up (at least 1).
	Burst int `yaml:"burst"`
}

// AuthMethod is one way a caller proves who it is.
type AuthMethod string

// Authentication methods.
const (
	AuthAPIKey AuthMethod = "api_key" // a key in a header
	AuthSigV4  AuthMethod = "sigv4"   // a request signed with a signway-issued key pair
	AuthJWT    AuthMethod = "jwt"     // a bearer token checked against a JWKS
	AuthMTLS   AuthMethod = "mtls"    // a verified TLS client certificate
	AuthNone   AuthMethod = "none"    // anyone: today's behaviour, the default
)

// Auth is caller authentication for a route, a host entry or the defaults.
type Auth struct {
	// Methods admit a caller if any one of them succeeds: api_key, sigv4,
	// jwt, mtls. Default none: every caller is served unauthenticated.
	Methods []AuthMethod `yaml:"methods"`
	// APIKeyHeader carries the API key; default X-Api-Key. It is never
	// sent upstream.
	APIKeyHeader string `yaml:"api_key_header"`
	// JWT checks bearer tokens in the Authorization header.
	JWT JWTAuth `yaml:"jwt"`
	// Allow lists the caller ids this route serves (a JWT caller's id is
	// its caller_claim); empty: every authenticated caller.
	Allow []string `yaml:"allow"`
}

// Enabled reports whether callers must authenticate.
func (a Auth) Enabled() bool {
	return len(a.Methods) > 0 && !(len(a.Methods) == 1 && a.Methods[0] == AuthNone)
}

// Accepts reports whether m is one of the route's methods.
func (a Auth) Accepts(m AuthMethod) bool { return slices.Contains(a.Methods, m) }

// JWTAuth verifies bearer tokens.
type JWTAuth struct {
	// Issuer is the iss every token must carry. Required.
	Issuer string `yaml:"issuer"`
	// Audiences: a token's aud must hold one of them. Required.
	Audiences []string `yaml:"audiences"`
	// JWKSFile is a JSON Web Key Set on disk, re-read when it changes.
	JWKSFile string `yaml:"jwks_file"`
	// JWKSURL is a JSON Web Key Set over https, cached and refreshed.
	JWKSURL string `yaml:"jwks_url"`
	// JWKSRefresh is how often the key set is fetched again; default 15m.
	// An unknown kid triggers an early fetch, at most once a minute.
	JWKSRefresh Duration `yaml:"jwks_refresh"`
	// CallerClaim is the claim whose value is the caller id; default sub.
	CallerClaim string `yaml:"caller_claim"`
	// Algorithms a token may be signed with; default RS256, RS384, RS512,
	// PS256, PS384, PS512, ES256, ES384, ES512, EdDSA. HMAC and none are
	// never accepted.
	Algorithms []string `yaml:"algorithms"`
	// Leeway for exp, nbf and iat against clock differences; default 30s.
	Leeway Duration `yaml:"leeway"`
}

// IsZero reports whether no JWT settings are given.
func (j JWTAuth) IsZero() bool { return reflect.ValueOf(j).IsZero() }

// JWTAlgorithms are the asymmetric algorithms accepted for tokens.
var JWTAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// RateLimits says where per-caller token buckets live.
type RateLimits struct {
	// Store is empty (each replica counts alone) or redis://HOST:PORT[/DB]
	// (rediss:// for TLS): every replica shares the caller's bucket.
	Store string `yaml:"store"`
	// OnStoreError is what happens while the store cannot be reached:
	// open (default: serve, uncounted) or closed (answer 503).
	OnStoreError string `yaml:"on_store_error"`
}

var (
	callerIDPattern = bounded{re: regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]*$`), min: 1, max: 128}
	accessKeyIDRe   = bounded{re: regexp.MustCompile(`^[A-Z0-9]+$`), min: 16, max: 128}
	sha256Hex       = bounded{re: regexp.MustCompile(`^[0-9a-fA-F]+$`), min: 64, max: 64}
	apiKeyType      = reflect.TypeFor[APIKey]()
)

// decodeAPIKey reads "${VAR}", {file: PATH} or {sha256: HEX}.
func (d *decoder) decodeAPIKey(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "sha256" {
				var ref struct {
					SHA256 string `yaml:"sha256"`
				}
				d.decodeStruct(n, reflect.ValueOf(&ref).Elem(), path)
				if !sha256Hex.MatchString(ref.SHA256) {
					d.problem(path+".sha256", n.Line, "must be the 64 hex digits of the key's SHA-256 (printf %%s \"$KEY\" | sha256sum)")
					return
				}
				v.Set(reflect.ValueOf(APIKey{SHA256: strings.ToLower(ref.SHA256)}))
				return
			}
		}
	}
	var s Secret
	d.decodeSecret(n, reflect.ValueOf(&s).Elem(), path)
	v.Set(reflect.ValueOf(APIKey{Key: s}))
}

// completeAuth fills the auth defaults of merged settings.
func completeAuth(a *Auth) {
	if a.Accepts(AuthAPIKey) {
		a.APIKeyHeader = strOr(a.APIKeyHeader, DefaultAPIKeyHeader)
	}
	if a.Accepts(AuthJWT) {
		j := &a.JWT
		j.CallerClaim = strOr(j.CallerClaim, DefaultCallerClaim)
		if j.Leeway == 0 {
			j.Leeway = DefaultJWTLeeway
		}
		if j.JWKSRefresh == 0 {
			j.JWKSRefresh = DefaultJWKSRefresh
		}
		if len(j.Algorithms) == 0 {
			j.Algorithms = slices.Clone(JWTAlgorithms)
		}
	}
}

func completeCallers(c *Config) {
	for i := range c.Callers {
		cl := &c.Callers[i]
		if rl := &cl.RateLimit; rl.RequestsPerSecond > 0 && rl.Burst == 0 {
			rl.Burst = max(1, int(math.Ceil(rl.RequestsPerSecond)))
		}
		if !cl.Credentials.IsZero() {
			cl.Credentials = complete(Settings{Credentials: cl.Credentials}, detectPattern(""), true).Credentials
		}
	}
	if c.RateLimits.Store != "" && c.RateLimits.OnStoreError == "" {
		c.RateLimits.OnStoreError = "open"
	}
}

// callers checks the callers block and rate_limits.
func (v *validator) callers() {
	ids := map[string]int{}
	akids := map[string]string{}
	keys := map[[32]byte]string{}
	for i, cl := range v.c.Callers {
		p := fmt.Sprintf("callers[%d]", i)
		switch j, dup := ids[cl.ID]; {
		case cl.ID == "":
			v.add(p+".id", "required: every caller needs an id (it names the caller in allow lists, logs and metrics)")
		case !callerIDPattern.MatchString(cl.ID):
			v.add(p+".id", "%q may hold only letters, digits, '.', '_', '-', '@' and ':' (at most 128)", cl.ID)
		case dup:
			v.add(p+".id", "%q is already the id of callers[%d]%s", cl.ID, j, v.lineOf(fmt.Sprintf("callers[%d]", j)))
		default:
			ids[cl.ID] = i
		}
		for j, k := range cl.APIKeys {
			f := fmt.Sprintf("%s.api_keys[%d]", p, j)
			if k.SHA256 == "" && k.Key.File != "" {
				continue // read when loaded, not here: Validate reads no file
			}
			d, err := k.Digest()
			if err != nil {
				v.add(f, "%v", err)
				continue
			}
			if first, dup := keys[d]; dup {
				v.add(f, "the same key as %s: each API key must name exactly one caller", first)
			} else {
				keys[d] = f
			}
		}
		for j, k := range cl.SigV4Keys {
			f := fmt.Sprintf("%s.sigv4_keys[%d]", p, j)
			switch first, dup := akids[k.AccessKeyID]; {
			case k.AccessKeyID == "":
				v.add(f+".access_key_id", "required: the key ID the caller signs with, e.g. SWAYAGENT7EXAMPLE")
			case !accessKeyIDRe.MatchString(k.AccessKeyID):
				v.add(f+".access_key_id", "%q must be 16-128 upper-case letters and digits, like an AWS access key ID", k.AccessKeyID)
			case dup:
				v.add(f+".access_key_id", "%q is already used by %s: a key ID must name exactly one caller", k.AccessKeyID, first)
			default:
				akids[k.AccessKeyID] = f
			}
			if k.SecretAccessKey.IsZero() {
				v.add(f+".secret_access_key", "required: \"${ENV_VAR}\" or {file: PATH}")
			}
		}
		if !cl.Certificate.IsZero() && v.c.Listen.TLS.ClientCAFile == "" {
			v.add(p+".certificate", "needs listen.tls.client_ca_file: client certificates are only asked for when it is set")
		}
		if rl := cl.RateLimit; rl.RequestsPerSecond < 0 || rl.Burst < 0 {
			v.add(p+".rate_limit", "requests_per_second and burst must be positive")
		} else if rl.Burst > 0 && rl.RequestsPerSecond == 0 {
			v.add(p+".rate_limit.requests_per_second", "required with burst")
		}
		if len(cl.APIKeys) == 0 && len(cl.SigV4Keys) == 0 && cl.Certificate.IsZero() && cl.RateLimit == (RateLimit{}) && cl.Credentials.IsZero() {
			v.add(p, "caller %q has no api_keys, sigv4_keys or certificate, and sets nothing for JWT callers of that id", cl.ID)
		}
		if !cl.Credentials.IsZero() {
			if cl.Credentials.Source == SourceCallerWebIdentity || cl.Credentials.WebIdentity != nil {
				v.add(p+".credentials.web_identity", "a caller's own credentials cannot be caller_web_identity: give a source or assume_role")
			}
			v.credentials(p+".credentials", cl.Credentials)
		}
	}
	rl := v.c.RateLimits
	if rl.Store != "" {
		u, err := url.Parse(rl.Store)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			v.add("rate_limits.store", "%q must be redis://HOST:PORT (or rediss:// for TLS)", rl.Store)
		} else if _, _, err := net.SplitHostPort(u.Host); err != nil {
			v.add("rate_limits.store", "%q needs a port, e.g. redis://127.0.0.1:6379", rl.Store)
		}
	}
	switch rl.OnStoreError {
	case "", "open", "closed":
	default:
		v.add("rate_limits.on_store_error", "%q is not open or closed", rl.OnStoreError)
	}
	if rl.OnStoreError != "" && rl.Store == "" {
		v.add("rate_limits.on_store_error", "only used with store")
	}
	if tls := v.c.Listen.TLS; tls.ClientCAFile != "" && tls.CertFile == "" {
		v.add("listen.tls.client_ca_file", "client certificates need TLS: set cert_file and key_file too")
	}
}

// auth checks one auth block as written.
func (v *validator) auth(p string, a Auth) {
	for j, m := range a.Methods {
		v.enum(fmt.Sprintf("%s.methods[%d]", p, j), m)
		if m == AuthNone && len(a.Methods) > 1 {
			v.add(fmt.Sprintf("%s.methods[%d]", p, j), "none cannot be combined with other methods")
		}
	}
	if h := a.APIKeyHeader; h != "" && !headerToken.MatchString(h) {
		v.add(p+".api_key_header", "%q is not a header name", h)
	}
	j := a.JWT
	for k, aud := range j.Audiences {
		if aud == "" {
			v.add(fmt.Sprintf("%s.jwt.audiences[%d]", p, k), "must not be empty")
		}
	}
	if j.JWKSFile != "" && j.JWKSURL != "" {
		v.add(p+".jwt.jwks_url", "give jwks_file or jwks_url, not both")
	}
	if j.JWKSURL != "" {
		u, err := url.Parse(j.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			v.add(p+".jwt.jwks_url", "%q must be an absolute https:// URL", j.JWKSURL)
		}
	}
	for k, alg := range j.Algorithms {
		if !slices.Contains(JWTAlgorithms, alg) {
			v.add(fmt.Sprintf("%s.jwt.algorithms[%d]", p, k), "%q is not one of %s (HMAC and none are never accepted)", alg, strings.Join(JWTAlgorithms, ", "))
		}
	}
	if j.Leeway < 0 || j.Leeway > Duration(5*time.Minute) {
		v.add(p+".jwt.leeway", "%s is out of range: 0 to 5m", j.Leeway)
	}
	if j.JWKSRefresh < 0 || j.JWKSRefresh != 0 && j.JWKSRefresh < Duration(time.Minute) {
		v.add(p+".jwt.jwks_refresh", "must be at least 1m")
	}
}

// mergedAuth checks what the merged auth of a route or host decides.
func (v *validator) mergedAuth(p string, a Auth) {
	if !a.Enabled() {
		if len(a.Allow) > 0 {
			v.add(p+".auth.allow", "has no effect without auth.methods: every caller is served unauthenticated")
		}
		return
	}
	if a.Accepts(AuthJWT) {
		j := a.JWT
		if j.Issuer == "" {
			v.add(p+".auth.jwt.issuer", "required with method jwt: the iss every token must carry")
		}
		if len(j.Audiences) == 0 {
			v.add(p+".auth.jwt.audiences", "required with method jwt: the aud values this gateway accepts")
		}
		if j.JWKSFile == "" && j.JWKSURL == "" {
			v.add(p+".auth.jwt.jwks_file", "required with method jwt: the keys tokens are signed with (jwks_file or jwks_url)")
		}
	} else if !a.JWT.IsZero() {
		v.add(p+".auth.jwt", "only used when methods includes jwt")
	}
	if a.Accepts(AuthMTLS) && v.c.Listen.TLS.ClientCAFile == "" {
		v.add(p+".auth.methods", "mtls needs listen.tls.client_ca_file")
	}
	if a.Accepts(AuthAPIKey) && (a.Accepts(AuthSigV4) || a.Accepts(AuthJWT)) && strings.EqualFold(a.APIKeyHeader, "Authorization") {
		v.add(p+".auth.api_key_header", "Authorization also carries SigV4 signatures and JWTs on this route: use another header")
	}
	if !a.Accepts(AuthJWT) {
		for j, id := range a.Allow {
			if !slices.ContainsFunc(v.c.Callers, func(c Caller) bool { return c.ID == id }) {
				v.add(fmt.Sprintf("%s.auth.allow[%d]", p, j), "%q is not declared in callers and this route does not accept jwt: no caller can match it", id)
			}
		}
	}
}
