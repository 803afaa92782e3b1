package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Authz is signing as a service, for gateways that proxy the traffic
// themselves and ask signway only for the headers to add.
type Authz struct {
	// HTTPAddress serves auth subrequests (nginx auth_request, Traefik
	// ForwardAuth, Caddy forward_auth, Envoy ext_authz HTTP, Gloo
	// passthrough): host:port, :port or a port number. Empty: off.
	HTTPAddress string `yaml:"http_address"`
	// GRPCAddress serves Envoy's envoy.service.auth.v3.Authorization/Check
	// and grpc.health.v1. Empty: off.
	GRPCAddress string `yaml:"grpc_address"`
	// EnvoyPathPrefix is the path_prefix of an Envoy ext_authz HTTP
	// service: the check's path is this prefix followed by the original path.
	EnvoyPathPrefix string `yaml:"envoy_path_prefix"`
}

// Presign enables POST /.signway/presign for a route: an authenticated
// caller asks for a presigned URL instead of having signway forward.
type Presign struct {
	// MaxLifetime caps the expires_in a caller may ask for, 1s to 7 days.
	// Default 1h.
	MaxLifetime Duration `yaml:"max_lifetime"`
	// Methods are the HTTP methods a URL may be presigned for. Default GET.
	Methods []string `yaml:"methods"`
}

// Unlisted is what the forward proxy does with a CONNECT to a host that is
// not on the hosts allowlist.
type Unlisted string

const (
	// UnlistedRefuse answers 403: nothing leaves but to listed hosts.
	UnlistedRefuse Unlisted = "refuse"
	// UnlistedTunnel passes the connection through untouched, unsigned.
	UnlistedTunnel Unlisted = "tunnel"
)

// ForwardProxy makes the main listener an HTTPS_PROXY too: clients that
// cannot be pointed at signway reach it unchanged, and signway intercepts
// the hosts of the hosts allowlist with a certificate from its own CA.
type ForwardProxy struct {
	// CACertFile is the PEM CA certificate leaf certificates are minted
	// from; clients trust it (AWS_CA_BUNDLE). signway ca init DIR makes one.
	CACertFile string `yaml:"ca_cert_file"`
	// CAKeyFile is its PEM private key; keep it readable by signway only.
	CAKeyFile string `yaml:"ca_key_file"`
	// Unlisted is refuse (default: 403) or tunnel (passed through untouched).
	Unlisted Unlisted `yaml:"unlisted"`
}

// Presign defaults.
const (
	DefaultPresignMaxLifetime = Duration(time.Hour)
)

// DefaultPresignMethods are the methods a route's presign block allows when
// it names none.
func DefaultPresignMethods() []string { return []string{"GET"} }

func (v *validator) service() {
	c := v.c
	addrs := map[string]string{addrOr(c.Listen.Address, DefaultListenAddress): "listen.address",
		addrOr(c.Utility.Address, DefaultUtilityAddress): "utility.address"}
	for _, a := range []struct{ field, val string }{{"authz.http_address", c.Authz.HTTPAddress}, {"authz.grpc_address", c.Authz.GRPCAddress}} {
		if a.val == "" {
			continue
		}
		n, err := normalizeAddr(a.val)
		if err != nil {
			v.add(a.field, "%q %v", a.val, err)
			continue
		}
		if other, taken := addrs[n]; taken {
			v.add(a.field, "is the same address as %s", other)
		}
		addrs[n] = a.field
	}
	if p := c.Authz.EnvoyPathPrefix; p != "" && !strings.HasPrefix(p, "/") {
		v.add("authz.envoy_path_prefix", "%q must start with /", p)
	}
	if fp := c.ForwardProxy; fp != nil {
		if fp.CACertFile == "" {
			v.add("forward_proxy.ca_cert_file", "required: the PEM CA certificate to mint leaf certificates from (signway ca init DIR makes one)")
		}
		if fp.CAKeyFile == "" {
			v.add("forward_proxy.ca_key_file", "required: the CA's PEM private key")
		}
		v.enum("forward_proxy.unlisted", fp.Unlisted)
		if len(c.Hosts) == 0 && fp.Unlisted != UnlistedTunnel {
			v.add("forward_proxy", "intercepts the hosts of the hosts: allowlist, and there are none: add hosts entries (every CONNECT would be refused)")
		}
	}
	for i, r := range c.Routes {
		if r.Presign != nil {
			v.presign(fmt.Sprintf("routes[%d].presign", i), r.Presign)
		}
	}
}

func (v *validator) presign(p string, ps *Presign) {
	if l := ps.MaxLifetime; l != 0 && (l < MinLifetime || l > MaxLifetime) {
		v.add(p+".max_lifetime", "%s is out of range: 1s to 7 days (168h)", l)
	}
	for j, m := range ps.Methods {
		if !slices.Contains(httpMethods, strings.ToUpper(m)) || strings.EqualFold(m, "CONNECT") {
			v.add(fmt.Sprintf("%s.methods[%d]", p, j), "%q is not an HTTP method a URL can be presigned for", m)
		}
	}
}
