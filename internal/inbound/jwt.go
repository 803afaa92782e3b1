package inbound

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/signway/signway/internal/config"
)

// JWTVerifier checks bearer tokens for one route: the signature with a key
// of the key set chosen by the token's kid, with an allowed asymmetric
// algorithm only, then iss, aud, exp and nbf with a small leeway.
type JWTVerifier struct {
	cache     tokenCache
	keys      *KeySet
	issuer    string
	audiences jwt.Audience
	claim     string
	algs      []jose.SignatureAlgorithm
	leeway    time.Duration
	now       func() time.Time
}

// NewJWTVerifier builds a verifier over keys (from a KeySets pool).
func NewJWTVerifier(j config.JWTAuth, keys *KeySet, now func() time.Time) (*JWTVerifier, error) {
	if keys == nil {
		return nil, errors.New("jwt: no key set")
	}
	if now == nil {
		now = time.Now
	}
	v := &JWTVerifier{keys: keys, issuer: j.Issuer, audiences: jwt.Audience(j.Audiences),
		claim: j.CallerClaim, leeway: j.Leeway.D(), now: now}
	if v.claim == "" {
		v.claim = config.DefaultCallerClaim
	}
	algs := j.Algorithms
	if len(algs) == 0 {
		algs = config.JWTAlgorithms
	}
	for _, a := range algs {
		if !slices.Contains(config.JWTAlgorithms, a) {
			// HMAC and none can never be configured: a JWKS holds public
			// keys, and an HMAC "verified" with a public key is forgeable.
			return nil, fmt.Errorf("jwt: algorithm %q is not accepted", a)
		}
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	return v, nil
}

// Verify returns the caller id (the caller claim) of a valid token. Its
// errors say what is wrong with the token, never anything about the keys.
//
// Checking a signature costs far more than proxying a request, and a
// caller sends the same token until it expires, so a token that verified
// is remembered (by its SHA-256) with its exp and nbf: later requests only
// have their times checked, until the key set changes.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (string, error) {
	now := v.now()
	digest := sha256.Sum256([]byte(token))
	gen := v.keys.generation(ctx)
	if id, ok := v.cache.get(digest, gen, now, v.leeway); ok {
		return id, nil
	}
	id, std, err := v.verify(ctx, token, now)
	if err != nil {
		return "", err
	}
	e := cachedToken{id: id, exp: std.Expiry.Time(), gen: gen}
	if std.NotBefore != nil {
		e.nbf = std.NotBefore.Time()
	}
	v.cache.put(digest, e)
	return id, nil
}

func (v *JWTVerifier) verify(ctx context.Context, token string, now time.Time) (string, *jwt.Claims, error) {
	tok, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		return "", nil, errors.New("not a JWS compact token signed with an accepted algorithm")
	}
	if len(tok.Headers) != 1 {
		return "", nil, errors.New("exactly one signature is expected")
	}
	kid := tok.Headers[0].KeyID
	if kid == "" {
		return "", nil, errors.New("the token header has no kid")
	}
	key, err := v.keys.key(ctx, kid)
	if err != nil {
		return "", nil, err
	}
	var std jwt.Claims
	var custom map[string]any
	if err := tok.Claims(key, &std, &custom); err != nil {
		return "", nil, errors.New("the signature does not verify")
	}
	if std.Expiry == nil {
		return "", nil, errors.New("the token has no exp")
	}
	err = std.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: v.audiences, Time: now}, v.leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return "", nil, errors.New("the token has expired")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return "", nil, errors.New("the token is not valid yet")
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return "", nil, errors.New("the token's iss is not the issuer this route trusts")
	case errors.Is(err, jwt.ErrInvalidAudience):
		return "", nil, errors.New("the token's aud does not name this gateway")
	case err != nil:
		return "", nil, errors.New("the token's claims are not valid")
	}
	id, _ := custom[v.claim].(string)
	if id == "" {
		return "", nil, fmt.Errorf("the token has no %s claim to name the caller", v.claim)
	}
	return id, &std, nil
}

// tokenCache remembers verified tokens, bounded: when full it starts over.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedToken
}

type cachedToken struct {
	id       string
	exp, nbf time.Time
	gen      uint64 // the key set generation it was verified with
}

const maxCachedTokens = 10000

func (c *tokenCache) get(d [32]byte, gen uint64, now time.Time, leeway time.Duration) (string, bool) {
	c.mu.Lock()
	e, ok := c.m[d]
	c.mu.Unlock()
	// Outside its times the token is verified again, and refused there
	// with the reason.
	if !ok || e.gen != gen || now.After(e.exp.Add(leeway)) || !e.nbf.IsZero() && now.Before(e.nbf.Add(-leeway)) {
		return "", false
	}
	return e.id, true
}

func (c *tokenCache) put(d [32]byte, e cachedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedTokens {
		c.m = make(map[[32]byte]cachedToken)
	}
	c.m[d] = e
}

// KeySet is a JSON Web Key Set from a file or a URL, cached. A file is read
// again when its modification time changes; a URL is fetched again every
// refresh interval, and early (at most once a minute) for an unknown kid,
// so a rotated signing key is picked up. Fetches are bounded in time and
// size. Only public RSA, EC and Ed25519 keys are kept.
type KeySet struct {
	file, url string
	refresh   time.Duration
	client    *http.Client
	log       *slog.Logger
	now       func() time.Time

	mu        sync.Mutex
	keys      map[string]any
	gen       uint64    // counts loads, so cached tokens know their keys
	fetched   time.Time // last fetch attempt
	loaded    time.Time // last good load
	fileMod   time.Time
	statted   time.Time // last look at the file's modification time
	lastError error
}

// generation loads the set if it is due and says which load is current.
func (s *KeySet) generation(ctx context.Context) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.due(s.now()) {
		s.load(ctx, s.now())
	}
	return s.gen
}

// due reports a set never read, a URL past its refresh interval, or a file
// that changed (looked at no more than once a second); s.mu is held.
func (s *KeySet) due(now time.Time) bool {
	if s.keys == nil && now.Sub(s.fetched) >= time.Second || s.url != "" && now.Sub(s.loaded) >= s.refresh && now.Sub(s.fetched) >= time.Second {
		return true
	}
	if s.file != "" && now.Sub(s.statted) >= time.Second {
		s.statted = now
		if fi, err := os.Stat(s.file); err == nil && !fi.ModTime().Equal(s.fileMod) {
			return true
		}
	}
	return false
}

// Bounds of a JWKS fetch.
const (
	maxJWKSBytes     = 1 << 20
	jwksFetchTimeout = 5 * time.Second
	minEarlyFetch    = time.Minute
)

func (s *KeySet) key(ctx context.Context, kid string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	_, known := s.keys[kid]
	if s.due(now) || !known && now.Sub(s.fetched) >= minEarlyFetch {
		s.load(ctx, now)
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	if s.keys == nil {
		s.log.Warn("JWKS unavailable", "source", s.source(), "error", s.lastError)
		return nil, errors.New("the keys to check it are not available right now")
	}
	return nil, errors.New("its kid names no key of the issuer's key set")
}

func (s *KeySet) source() string {
	if s.file != "" {
		return s.file
	}
	return s.url
}

// load replaces the keys with a freshly read set; s.mu is held. A failed
// load keeps the previous keys.
func (s *KeySet) load(ctx context.Context, now time.Time) {
	s.fetched = now
	var data []byte
	var mod time.Time
	var err error
	if s.file != "" {
		var fi os.FileInfo
		if fi, err = os.Stat(s.file); err == nil {
			mod = fi.ModTime()
			data, err = os.ReadFile(s.file)
		}
	} else {
		data, err = s.fetch(ctx)
	}
	if err == nil {
		var keys map[string]any
		if keys, err = parseJWKS(data); err == nil {
			s.keys, s.loaded, s.fileMod, s.lastError = keys, now, mod, nil
			s.gen++
			return
		}
	}
	s.lastError = err
	s.log.Warn("reading the JWKS failed; keeping the keys read before", "source", s.source(), "error", err)
}

func (s *KeySet) fetch(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", s.url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err == nil && len(data) > maxJWKSBytes {
		err = fmt.Errorf("GET %s: the key set is larger than %d bytes", s.url, maxJWKSBytes)
	}
	return data, err
}

func parseJWKS(data []byte) (map[string]any, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	keys := map[string]any{}
	for _, k := range set.Keys {
		if k.KeyID == "" || k.Use == "enc" {
			continue
		}
		switch pk := k.Public().Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys[k.KeyID] = pk
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("the key set has no public signing key with a kid")
	}
	return keys, nil
}

// KeySets keeps key sets across reloads, one per source, so a reload does
// not refetch every issuer's keys.
type KeySets struct {
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	mu     sync.Mutex
	m      map[keySetKey]*KeySet
}

type keySetKey struct {
	file, url string
	refresh   time.Duration
}

// NewKeySets returns an empty pool; client fetches JWKS URLs.
func NewKeySets(client *http.Client, log *slog.Logger, now func() time.Time) *KeySets {
	if client == nil {
		client = &http.Client{Timeout: jwksFetchTimeout}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &KeySets{client: client, log: log, now: now, m: map[keySetKey]*KeySet{}}
}

// Get returns the key set of j's jwks_file or jwks_url.
func (p *KeySets) Get(j config.JWTAuth) *KeySet {
	k := keySetKey{j.JWKSFile, j.JWKSURL, j.JWKSRefresh.D()}
	if k.refresh <= 0 {
		k.refresh = config.DefaultJWKSRefresh.D()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.m[k]; ok {
		return s
	}
	s := &KeySet{file: k.file, url: k.url, refresh: k.refresh, client: p.client, log: p.log, now: p.now}
	p.m[k] = s
	return s
}
