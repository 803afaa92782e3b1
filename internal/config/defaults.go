package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/signway/signway/internal/awsendpoint"
)

// The documented defaults, the only definition of each: the command line and
// the proxy use these too.
const (
	DefaultListenAddress   = "0.0.0.0:8080"
	DefaultUtilityAddress  = "0.0.0.0:9090"
	DefaultPayload         = PayloadAuto
	DefaultLifetime        = Duration(15 * time.Minute)
	DefaultConnectTimeout  = Duration(10 * time.Second)
	DefaultResponseTimeout = Duration(30 * time.Second)
	DefaultMaxBodySize     = ByteSize(5 << 30) // S3's single PUT limit
	DefaultBodyIdleTimeout = Duration(60 * time.Second)
	DefaultSpoolMemory     = ByteSize(256 << 20) // all hashed bodies together
	DefaultMaxAttempts     = 3
	DefaultTokenHeader     = "Authorization"
	DefaultCacheSize       = 10000
)

// builtin is the bottom layer of every route's settings. The algorithm is
// not here: it depends on the upstream host (see complete).
var builtin = Settings{
	Payload:     DefaultPayload,
	Signing:     Signing{Mode: SignHeader, Lifetime: DefaultLifetime},
	Timeouts:    Timeouts{Connect: DefaultConnectTimeout, Response: DefaultResponseTimeout, BodyIdle: DefaultBodyIdleTimeout},
	MaxBodySize: DefaultMaxBodySize,
	Retries:     Retries{MaxAttempts: DefaultMaxAttempts},
}

// WithDefaults returns a deep copy of c with every default filled in: the
// built-in defaults, then the defaults block, then each route's own
// settings; the service and region detected from upstream hosts; listener
// addresses as host:port; the upstream protocol and port. It does not
// validate, and it is idempotent.
func (c *Config) WithDefaults() *Config {
	out := c.clone()
	out.Listen.Address = addrOr(out.Listen.Address, DefaultListenAddress)
	out.Utility.Address = addrOr(out.Utility.Address, DefaultUtilityAddress)
	if out.Limits.SpoolMemory == 0 {
		out.Limits.SpoolMemory = DefaultSpoolMemory
	}
	base := merge(builtin, c.Defaults)
	out.Defaults = complete(base, awsendpoint.Endpoint{}, true)
	byName := map[string]Settings{}
	for i := range out.Routes {
		r := &out.Routes[i]
		byName[r.Name] = c.Routes[i].Settings
		if r.OverrideTargetHost != "" {
			r.OverrideTargetProtocol = strings.ToLower(strOr(r.OverrideTargetProtocol, "https"))
			r.OverrideTargetPort = portOr(r.OverrideTargetPort, r.OverrideTargetProtocol)
		}
		var d awsendpoint.Endpoint
		if u, err := r.Upstream(); err == nil {
			d = awsendpoint.Detect(u.Hostname())
		}
		r.Settings = complete(merge(base, r.Settings), d, true)
		if ps := r.Presign; ps != nil {
			if ps.MaxLifetime == 0 {
				ps.MaxLifetime = DefaultPresignMaxLifetime
			}
			if len(ps.Methods) == 0 {
				ps.Methods = DefaultPresignMethods()
			}
			for j, m := range ps.Methods {
				ps.Methods[j] = strings.ToUpper(m)
			}
		}
	}
	if fp := out.ForwardProxy; fp != nil && fp.Unlisted == "" {
		fp.Unlisted = UnlistedRefuse
	}
	for i := range out.Hosts {
		h := &out.Hosts[i]
		s := base
		if from, ok := byName[h.SettingsFrom]; ok {
			// The route's service and region belong to its upstream (they
			// may have been detected from it); this host detects its own.
			from.Service, from.Region = "", ""
			s = merge(s, from)
		}
		h.Protocol = strings.ToLower(strOr(h.Protocol, "https"))
		h.Port = portOr(h.Port, h.Protocol)
		h.Settings = complete(merge(s, h.Settings), detectPattern(h.Host), fixedPattern(h.Host))
	}
	completeCallers(out)
	return out
}

// complete fills what depends on the merged settings: detection from the
// upstream host and the implied credential source. fixed is false for a host
// pattern whose names differ in what detection says: the algorithm is then
// left for the proxy to detect per host, like the service and region.
func complete(s Settings, d awsendpoint.Endpoint, fixed bool) Settings {
	s.Service = strOr(s.Service, d.Service)
	s.Region = strOr(s.Region, d.Region)
	completeAuth(&s.Auth)
	switch {
	case s.Signing.Algorithm != "":
	case d.MultiRegion:
		s.Signing.Algorithm = SigV4A
		if len(s.Signing.RegionSet) == 0 {
			s.Signing.RegionSet = []string{awsendpoint.MultiRegionSet}
		}
	case fixed:
		s.Signing.Algorithm = SigV4
	}
	cr := &s.Credentials
	switch {
	case cr.Source != "":
	case !cr.AccessKeyID.IsZero() || !cr.SecretAccessKey.IsZero():
		cr.Source = SourceStatic
	case cr.WebIdentity != nil:
		cr.Source = SourceCallerWebIdentity
	case cr.RolesAnywhere != nil:
		cr.Source = SourceRolesAnywhere
	default:
		cr.Source = SourceDefault
	}
	if w := cr.WebIdentity; w != nil {
		w.TokenHeader = strOr(w.TokenHeader, DefaultTokenHeader)
		if w.CacheSize == 0 {
			w.CacheSize = DefaultCacheSize
		}
	}
	return s
}

// SigV4ARegionSet is the region set a SigV4A signature covers: region_set,
// or the region alone.
func (s *Settings) SigV4ARegionSet() []string {
	if len(s.Signing.RegionSet) > 0 || s.Region == "" {
		return s.Signing.RegionSet
	}
	return []string{s.Region}
}

// detectPattern detects the service and region that every name matching a
// host pattern shares: for *.suffix, a field is kept only when detection
// gives the same answer whatever the wildcard stands for (in
// *.us-east-1.amazonaws.com the region is fixed, the service is not). What
// is left empty the proxy detects per request.
func detectPattern(pattern string) awsendpoint.Endpoint {
	pattern = strings.ToLower(pattern)
	suffix, ok := strings.CutPrefix(pattern, "*.")
	if !ok {
		return awsendpoint.Detect(pattern)
	}
	a, b := awsendpoint.Detect("a1."+suffix), awsendpoint.Detect("b2."+suffix)
	if a.Service != b.Service {
		a.Service = ""
	}
	if a.Region != b.Region {
		a.Region = ""
	}
	return a
}

// fixedPattern reports whether every name a host pattern covers detects
// the same: an exact name, or a "*.suffix" whose suffix decides. A
// wildcard matches any number of labels, so a suffix that names nothing
// itself ("*.amazonaws.com") covers s3.us-east-1.amazonaws.com and
// sqs.eu-west-2.amazonaws.com alike: detected per request.
func fixedPattern(pattern string) bool {
	suffix, ok := strings.CutPrefix(strings.ToLower(pattern), "*.")
	if !ok {
		return true
	}
	a := awsendpoint.Detect("a1." + suffix)
	if a != awsendpoint.Detect("b2."+suffix) {
		return false
	}
	if a.Service != "" || a.Region != "" {
		return true // the suffix itself names the service or region
	}
	return awsendpoint.Detect("s3.us-east-1."+suffix) == awsendpoint.Detect("sqs.eu-west-2."+suffix)
}

// Upstream returns the route's upstream URL, from url or from the
// override_target_* fields.
func (r *Route) Upstream() (*url.URL, error) {
	u, errs := r.upstream()
	if len(errs) > 0 {
		return nil, fmt.Errorf("route %q: %s: %s", r.Name, errs[0].field, errs[0].msg)
	}
	return u, nil
}

type fieldErr struct{ field, msg string }

func (r *Route) upstream() (*url.URL, []fieldErr) {
	var errs []fieldErr
	bad := func(field, format string, a ...any) {
		errs = append(errs, fieldErr{field, fmt.Sprintf(format, a...)})
	}
	switch {
	case r.URL != "" && r.OverrideTargetHost != "":
		bad("override_target_host", "give the upstream either as url or as override_target_host, not both")
	case r.URL != "":
		if r.OverrideTargetPort != 0 || r.OverrideTargetProtocol != "" {
			bad("url", "override_target_port and override_target_protocol go with override_target_host, not url")
		}
		u, err := url.Parse(r.URL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
			bad("url", "%q must be an absolute http:// or https:// URL", r.URL)
		case u.User != nil:
			bad("url", "must not carry user info: it would be sent upstream and logged; use credentials instead")
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			bad("url", "%q must not have a query or a fragment", r.URL)
		case u.Port() != "" && !validPort(u.Port()):
			bad("url", "%q has an invalid port", r.URL)
		default:
			return u, nil
		}
	case r.OverrideTargetHost != "":
		proto := strings.ToLower(strOr(r.OverrideTargetProtocol, "https"))
		if proto != "http" && proto != "https" {
			bad("override_target_protocol", "%q is not http or https", r.OverrideTargetProtocol)
		}
		if p := r.OverrideTargetPort; p < 0 || p > 65535 {
			bad("override_target_port", "%d is not a port (1-65535)", p)
		}
		if msg := checkHostName(r.OverrideTargetHost); msg != "" {
			bad("override_target_host", "%s", msg)
		}
		if len(errs) == 0 {
			host := strings.ToLower(r.OverrideTargetHost)
			if p := portOr(r.OverrideTargetPort, proto); p != portOr(0, proto) {
				host = net.JoinHostPort(host, strconv.Itoa(p))
			} else if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			return &url.URL{Scheme: proto, Host: host}, nil
		}
	default:
		if r.OverrideTargetPort != 0 || r.OverrideTargetProtocol != "" {
			bad("override_target_host", "required with override_target_port and override_target_protocol")
		} else {
			bad("url", "an upstream is required: set url (e.g. https://my-bucket.s3.us-east-1.amazonaws.com) or override_target_host")
		}
	}
	return nil, errs
}

// checkHostName accepts a DNS name or an IP literal, nothing else.
func checkHostName(h string) string {
	if strings.Contains(h, "://") || strings.ContainsAny(h, "/?#@") {
		return fmt.Sprintf("%q must be a host name alone (the protocol and port have their own fields)", h)
	}
	if net.ParseIP(strings.Trim(h, "[]")) != nil {
		return ""
	}
	if strings.Contains(h, ":") {
		return fmt.Sprintf("%q must be a host name alone; give the port in its own field", h)
	}
	return checkLabels(h)
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535
}

func portOr(p int, proto string) int {
	switch {
	case p != 0:
		return p
	case proto == "http":
		return 80
	}
	return 443
}

func strOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// addrOr completes a listener address: "8080" and ":8080" get host 0.0.0.0.
// Malformed addresses are left for Validate to report.
func addrOr(a, def string) string {
	if a == "" {
		return def
	}
	if a, err := normalizeAddr(a); err == nil {
		return a
	}
	return a
}

func normalizeAddr(s string) (string, error) {
	if validPort(s) {
		return net.JoinHostPort("0.0.0.0", s), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || !validPort(port) && port != "0" { // port 0: any free one (tests, demos)
		return "", errors.New("must be host:port, :port or a port number (1-65535)")
	}
	return net.JoinHostPort(strOr(host, "0.0.0.0"), port), nil
}
