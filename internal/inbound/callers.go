package inbound

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/sigv4"
)

// Callers is one config generation's known callers, indexed by what
// identifies them. It is immutable once built and shared by every route.
type Callers struct {
	byID    map[string]*known
	apiKeys []apiKey
	sigv4   map[string]sigv4Key
	certs   []*known
}

// known is a declared caller.
type known struct {
	id      string
	limiter *Limiter // nil: no rate limit
	creds   CredentialsFunc
	cert    config.CallerCertificate
}

type apiKey struct {
	digest [32]byte
	caller *known
}

type sigv4Key struct {
	secret string
	caller *known
}

// CallersOptions build a Callers.
type CallersOptions struct {
	Callers []config.Caller
	// Credentials builds a caller's own AWS credentials (its credentials
	// block, cached per caller); required when a caller has one.
	Credentials func(c config.Caller) (CredentialsFunc, error)
	// Limiters keeps the callers' token buckets across reloads; nil: rate
	// limits are not applied.
	Limiters *Limiters
}

// NewCallers reads every caller's keys (the files of {file:} references
// too, so a rotated key file is read again on reload) and indexes them. An
// API key or access key ID given to two callers is an error.
func NewCallers(o CallersOptions) (*Callers, error) {
	c := &Callers{byID: map[string]*known{}, sigv4: map[string]sigv4Key{}}
	var errs []error
	seen := map[[32]byte]string{}
	for i, cc := range o.Callers {
		p := fmt.Sprintf("callers[%d] (%s)", i, cc.ID)
		k := &known{id: cc.ID, cert: cc.Certificate}
		if _, dup := c.byID[cc.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: the id is used twice", p))
			continue
		}
		c.byID[cc.ID] = k
		if o.Limiters != nil && cc.RateLimit.RequestsPerSecond > 0 {
			k.limiter = o.Limiters.get(cc.ID, cc.RateLimit)
		}
		if !cc.Credentials.IsZero() {
			if o.Credentials == nil {
				errs = append(errs, fmt.Errorf("%s: own credentials are not supported here", p))
			} else if fn, err := o.Credentials(cc); err != nil {
				errs = append(errs, fmt.Errorf("%s.credentials: %w", p, err))
			} else {
				k.creds = fn
			}
		}
		for j, ak := range cc.APIKeys {
			d, err := ak.Digest()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.api_keys[%d]: %w", p, j, err))
				continue
			}
			if first, dup := seen[d]; dup {
				errs = append(errs, fmt.Errorf("%s.api_keys[%d]: the same key as %s", p, j, first))
				continue
			}
			seen[d] = fmt.Sprintf("%s.api_keys[%d]", p, j)
			c.apiKeys = append(c.apiKeys, apiKey{digest: d, caller: k})
		}
		for j, sk := range cc.SigV4Keys {
			secret, err := sk.SecretAccessKey.Value()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s.sigv4_keys[%d].secret_access_key: %w", p, j, err))
				continue
			case secret == "":
				errs = append(errs, fmt.Errorf("%s.sigv4_keys[%d].secret_access_key: empty", p, j))
				continue
			}
			if _, dup := c.sigv4[sk.AccessKeyID]; dup {
				errs = append(errs, fmt.Errorf("%s.sigv4_keys[%d]: access key ID %s is used twice", p, j, sk.AccessKeyID))
				continue
			}
			c.sigv4[sk.AccessKeyID] = sigv4Key{secret: secret, caller: k}
		}
		if !cc.Certificate.IsZero() {
			c.certs = append(c.certs, k)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// byAPIKey finds the caller of a presented API key. The key is hashed and
// the digest compared with every configured one in constant time, without
// stopping at a match, so the time taken tells nothing about which key, or
// how much of one, matched.
func (c *Callers) byAPIKey(key string) *known {
	d := sha256.Sum256([]byte(key))
	var found *known
	for i := range c.apiKeys {
		if subtle.ConstantTimeCompare(d[:], c.apiKeys[i].digest[:]) == 1 {
			found = c.apiKeys[i].caller
		}
	}
	return found
}

// lookupSigV4 is the verifier's key lookup.
func (c *Callers) lookupSigV4(akid string) (sigv4.Credentials, error) {
	k, ok := c.sigv4[akid]
	if !ok {
		return sigv4.Credentials{}, errors.New("no caller has this access key ID")
	}
	return sigv4.Credentials{AccessKeyID: akid, SecretAccessKey: k.secret}, nil
}

// byCertificate finds the caller a verified client certificate names.
func (c *Callers) byCertificate(cert *x509.Certificate) *known {
	for _, k := range c.certs {
		if certMatches(k.cert, cert) {
			return k
		}
	}
	return nil
}

func certMatches(want config.CallerCertificate, cert *x509.Certificate) bool {
	if want.Subject != "" && !strings.EqualFold(cert.Subject.String(), want.Subject) {
		return false
	}
	if want.SAN == "" {
		return true
	}
	for _, n := range cert.DNSNames {
		if strings.EqualFold(n, want.SAN) {
			return true
		}
	}
	for _, e := range cert.EmailAddresses {
		if strings.EqualFold(e, want.SAN) {
			return true
		}
	}
	for _, u := range cert.URIs {
		if u.String() == want.SAN {
			return true
		}
	}
	if ip := net.ParseIP(want.SAN); ip != nil {
		for _, a := range cert.IPAddresses {
			if a.Equal(ip) {
				return true
			}
		}
	}
	return false
}
