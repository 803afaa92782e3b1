package config

import (
	"maps"
	"slices"
)

// Merging and copying are written out field by field: a new setting must be
// added here too, and TestMergeAndCloneCoverEveryField (which sets every
// field) fails until it is.

// merge lays over on top of base: every field over leaves zero comes from
// base, header maps are united (over wins per header), and the credentials
// block is taken whole, because mixing one block's static keys with
// another's role is never meant. The result shares nothing mutable with
// either.
func merge(base, over Settings) Settings {
	out := over.clone()
	if over.Credentials.IsZero() {
		out.Credentials = base.Credentials.clone()
	}
	or(&out.Service, base.Service)
	or(&out.Region, base.Region)
	or(&out.Payload, base.Payload)
	mergeSigning(&out.Signing, base.Signing)
	mergeHeaders(&out.Headers, base.Headers)
	or(&out.StripPrefix, base.StripPrefix)
	or(&out.Timeouts.Connect, base.Timeouts.Connect)
	or(&out.Timeouts.Response, base.Timeouts.Response)
	or(&out.Timeouts.BodyIdle, base.Timeouts.BodyIdle)
	or(&out.MaxBodySize, base.MaxBodySize)
	or(&out.Retries.MaxAttempts, base.Retries.MaxAttempts)
	or(&out.UpstreamTLS.CAFile, base.UpstreamTLS.CAFile)
	or(&out.UpstreamTLS.InsecureSkipVerify, base.UpstreamTLS.InsecureSkipVerify)
	mergeAuth(&out.Auth, base.Auth)
	or(&out.Debug, base.Debug)
	return out
}

func mergeSigning(s *Signing, base Signing) {
	or(&s.Algorithm, base.Algorithm)
	orList(&s.RegionSet, base.RegionSet)
	or(&s.Mode, base.Mode)
	or(&s.Lifetime, base.Lifetime)
}

func mergeHeaders(h *Headers, base Headers) {
	if len(base.Add) > 0 {
		if h.Add == nil {
			h.Add = make(map[string]string, len(base.Add))
		}
		for k, v := range base.Add {
			if _, ok := h.Add[k]; !ok {
				h.Add[k] = v
			}
		}
	}
	orList(&h.Remove, base.Remove)
	orList(&h.Unsigned, base.Unsigned)
	orList(&h.SignedOnly, base.SignedOnly)
}

func mergeAuth(a *Auth, base Auth) {
	orList(&a.Methods, base.Methods)
	or(&a.APIKeyHeader, base.APIKeyHeader)
	j, bj := &a.JWT, base.JWT
	or(&j.Issuer, bj.Issuer)
	orList(&j.Audiences, bj.Audiences)
	or(&j.JWKSFile, bj.JWKSFile)
	or(&j.JWKSURL, bj.JWKSURL)
	or(&j.JWKSRefresh, bj.JWKSRefresh)
	or(&j.CallerClaim, bj.CallerClaim)
	orList(&j.Algorithms, bj.Algorithms)
	or(&j.Leeway, bj.Leeway)
	orList(&a.Allow, base.Allow)
}

// or sets *p to def when *p is the zero value ("not set").
func or[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// orList sets *p to a copy of def when no list is given.
func orList[T any](p *[]T, def []T) {
	if *p == nil {
		*p = slices.Clone(def)
	}
}

// clone copies c and everything it holds but the read-only line map.
func (c *Config) clone() *Config {
	out := *c
	out.Defaults = c.Defaults.clone()
	out.Hosts = slices.Clone(c.Hosts)
	for i := range out.Hosts {
		out.Hosts[i].Settings = c.Hosts[i].Settings.clone()
	}
	out.Routes = slices.Clone(c.Routes)
	for i := range out.Routes {
		r := &out.Routes[i]
		r.Match.Methods = slices.Clone(r.Match.Methods)
		r.Settings = c.Routes[i].Settings.clone()
		if r.Presign != nil {
			ps := *r.Presign
			ps.Methods = slices.Clone(ps.Methods)
			r.Presign = &ps
		}
	}
	if c.ForwardProxy != nil {
		fp := *c.ForwardProxy
		out.ForwardProxy = &fp
	}
	out.Callers = slices.Clone(c.Callers)
	for i := range out.Callers {
		cl := &out.Callers[i]
		cl.APIKeys = slices.Clone(cl.APIKeys)
		cl.SigV4Keys = slices.Clone(cl.SigV4Keys)
		cl.Credentials = cl.Credentials.clone()
	}
	return &out
}

// clone copies s with its lists, maps and credentials.
func (s Settings) clone() Settings {
	s.Credentials = s.Credentials.clone()
	s.Signing.RegionSet = slices.Clone(s.Signing.RegionSet)
	h := &s.Headers
	h.Add = maps.Clone(h.Add)
	h.Remove = slices.Clone(h.Remove)
	h.Unsigned = slices.Clone(h.Unsigned)
	h.SignedOnly = slices.Clone(h.SignedOnly)
	a := &s.Auth
	a.Methods = slices.Clone(a.Methods)
	a.JWT.Audiences = slices.Clone(a.JWT.Audiences)
	a.JWT.Algorithms = slices.Clone(a.JWT.Algorithms)
	a.Allow = slices.Clone(a.Allow)
	return s
}

// clone copies c with its roles.
func (c Credentials) clone() Credentials {
	if c.AssumeRole != nil {
		ar := c.AssumeRole.clone()
		c.AssumeRole = &ar
	}
	if c.WebIdentity != nil {
		w := *c.WebIdentity
		c.WebIdentity = &w
	}
	if c.RolesAnywhere != nil {
		ra := *c.RolesAnywhere
		c.RolesAnywhere = &ra
	}
	return c
}

func (ar AssumeRole) clone() AssumeRole {
	ar.Tags = maps.Clone(ar.Tags)
	ar.Chain = slices.Clone(ar.Chain)
	for i := range ar.Chain {
		ar.Chain[i] = ar.Chain[i].clone()
	}
	return ar
}
