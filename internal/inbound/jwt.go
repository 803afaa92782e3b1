package inbound

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
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
func (v *JWTVerifier) Verify(ctx context.Context, token string) (string, error) {
	tok, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		return "", errors.New("not a JWS compact token signed with an accepted algorithm")
	}
	if len(tok.Headers) != 1 {
		return "", errors.New("exactly one signature is expected")
	}
	kid := tok.Headers[0].KeyID
	if kid == "" {
		return "", errors.New("the token header has no kid")
	}
	key, err := v.keys.key(ctx, kid)
	if err != nil {
		return "", err
	}
	var std jwt.Claims
	var custom map[string]any
	if err := tok.Claims(key, &std, &custom); err != nil {
		return "", errors.New("the signature does not verify")
	}
	if std.Expiry == nil {
		return "", errors.New("the token has no exp")
	}
	err = std.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: v.audiences, Time: v.now()}, v.leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return "", errors.New("the token has expired")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return "", errors.New("the token is not valid yet")
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return "", errors.New("the token's iss is not the issuer this route trusts")
	case errors.Is(err, jwt.ErrInvalidAudience):
		return "", errors.New("the token's aud does not name this gateway")
	case err != nil:
		return "", errors.New("the token's claims are not valid")
	}
	id, _ := custom[v.claim].(string)
	if id == "" {
		return "", fmt.Errorf("the token has no %s claim to name the caller", v.claim)
	}
	return id, nil
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
	fetched   time.Time // last fetch attempt
	loaded    time.Time // last good load
	fileMod   time.Time
	lastError error
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
	stale := s.keys == nil || s.url != "" && now.Sub(s.loaded) >= s.refresh
	if s.file != "" {
		if fi, err := os.Stat(s.file); err == nil && !fi.ModTime().Equal(s.fileMod) {
			stale = true
		}
	}
	_, known := s.keys[kid]
	if stale || !known && now.Sub(s.fetched) >= minEarlyFetch {
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
