package config

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/signway/signway/internal/awsendpoint"
)

// Validate reports every problem in c at once, as a *ProblemsError whose
// problems name their field path and, for a Config from Parse, YAML line. It
// has no side effects: it changes nothing and reads no file, environment or
// network. It accepts a Config as written or as completed by WithDefaults.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.listeners()
	v.service()
	v.callers()
	if c.Limits.SpoolMemory < 0 {
		v.add("limits.spool_memory", "must be positive: bytes, or a size such as 256MiB")
	}
	base := merge(builtin, c.Defaults)
	v.settings("defaults", c.Defaults)
	names := map[string]int{}
	for i, r := range c.Routes {
		if _, dup := names[r.Name]; !dup && r.Name != "" {
			names[r.Name] = i
		}
	}
	matches := map[string]int{}
	for i := range c.Routes {
		v.route(i, base, names, matches)
	}
	hosts := map[string]int{}
	for i := range c.Hosts {
		v.host(i, base, names, hosts)
	}
	if len(c.Routes) == 0 && len(c.Hosts) == 0 {
		v.add("routes", "nothing to serve: add at least one route, or a hosts allowlist")
	}
	if len(v.problems) == 0 {
		return nil
	}
	sortProblems(v.problems)
	return &ProblemsError{Problems: v.problems}
}

type validator struct {
	c        *Config
	problems []Problem
}

func (v *validator) add(field, format string, a ...any) {
	v.problems = append(v.problems, Problem{Field: field, Line: v.c.Line(field), Message: fmt.Sprintf(format, a...)})
}

var (
	namePattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	servicePattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	regionPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	regionSetItem    = regexp.MustCompile(`^[a-z0-9*][a-z0-9*-]*$`)
	rolesAnywhereARN = regexp.MustCompile(`^arn:aws[a-z-]*:rolesanywhere:([a-z0-9-]+):[0-9]{12}:(trust-anchor|profile)/[A-Za-z0-9-]+$`)
	roleARN          = bounded{re: regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/([\w+=,.@/-]+)$`), min: 1, max: 512, lastGroup: true}
	accountID        = regexp.MustCompile(`^[0-9]{12}$`)
	roleName         = bounded{re: regexp.MustCompile(`^[\w+=,.@-]+$`), min: 1, max: 64}
	sessionName      = bounded{re: regexp.MustCompile(`^[\w+=,.@-]+$`), min: 2, max: 64}
	externalID       = regexp.MustCompile(`^[\w+=,.@:/-]+$`) // 2-1224: checked apart, RE2 repeats stop at 1000
	tagKey           = bounded{re: regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+@-]+$`), min: 1, max: 128, runes: true}
	headerToken      = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	httpMethods      = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
	// reservedHeaders are set by signing or by the transport; adding them
	// would break or bypass the signature.
	reservedHeaders = []string{"authorization", "host", "x-amz-date", "x-amz-security-token",
		"x-amz-content-sha256", "content-length", "transfer-encoding", "connection"}
)

func (v *validator) listeners() {
	c := v.c
	la, ua := c.Listen.Address, c.Utility.Address
	if la != "" {
		if _, err := normalizeAddr(la); err != nil {
			v.add("listen.address", "%q %v", la, err)
		}
	}
	if ua != "" {
		if _, err := normalizeAddr(ua); err != nil {
			v.add("utility.address", "%q %v", ua, err)
		}
	}
	if (c.Listen.TLS.CertFile == "") != (c.Listen.TLS.KeyFile == "") {
		v.add("listen.tls", "cert_file and key_file go together: give both to serve TLS, or neither")
	}
	if a := addrOr(la, DefaultListenAddress); a == addrOr(ua, DefaultUtilityAddress) && !strings.HasSuffix(a, ":0") {
		v.add("utility.address", "is the same as listen.address")
	}
	if a := c.AccessLog; strings.TrimSpace(a) != a || strings.HasSuffix(a, "/") {
		v.add("access_log", "%q: give off, stdout, stderr or a file path", a)
	}
}

func (v *validator) route(i int, base Settings, names map[string]int, matches map[string]int) {
	r := &v.c.Routes[i]
	p := fmt.Sprintf("routes[%d]", i)
	switch first := names[r.Name]; {
	case r.Name == "":
		v.add(p+".name", "required: every route needs a unique name (it labels logs and metrics)")
	case !namePattern.MatchString(r.Name):
		v.add(p+".name", "%q may hold only letters, digits, '.', '_' and '-'", r.Name)
	case first != i:
		v.add(p+".name", "%q is already the name of routes[%d]%s", r.Name, first, v.lineOf(fmt.Sprintf("routes[%d]", first)))
	}
	m := r.Match
	if m.Host != "" {
		if msg := checkHostPattern(m.Host); msg != "" {
			v.add(p+".match.host", "%s", msg)
		}
	}
	if m.Path != "" && m.PathPrefix != "" {
		v.add(p+".match.path", "give path (exact) or path_prefix, not both")
	}
	for _, f := range []struct{ name, val string }{{"path", m.Path}, {"path_prefix", m.PathPrefix}} {
		if f.val != "" && (!strings.HasPrefix(f.val, "/") || strings.ContainsAny(f.val, "?#")) {
			v.add(p+".match."+f.name, "%q must be a path starting with / (no query or fragment)", f.val)
		}
	}
	for j, meth := range m.Methods {
		if !slices.Contains(httpMethods, strings.ToUpper(meth)) {
			v.add(fmt.Sprintf("%s.match.methods[%d]", p, j), "%q is not one of %s", meth, strings.Join(httpMethods, ", "))
		}
	}
	key := matchKey(m)
	if j, dup := matches[key]; dup {
		v.add(p+".match", "the same match as routes[%d]%s (%q): only the first would ever be used", j, v.lineOf(fmt.Sprintf("routes[%d]", j)), v.c.Routes[j].Name)
	} else {
		matches[key] = i
	}
	u, errs := r.upstream()
	for _, e := range errs {
		v.add(p+"."+e.field, "%s", e.msg)
	}
	v.settings(p, r.Settings)
	if u != nil {
		v.merged(p, complete(merge(base, r.Settings), awsendpoint.Detect(u.Hostname()), true), u.Hostname())
	}
}

func (v *validator) lineOf(field string) string {
	if l := v.c.Line(field); l > 0 {
		return fmt.Sprintf(" (line %d)", l)
	}
	return ""
}

// matchKey is equal for two matches that select exactly the same requests.
func matchKey(m Match) string {
	var ms []string
	for _, x := range m.Methods {
		ms = append(ms, strings.ToUpper(x))
	}
	slices.Sort(ms)
	return strings.Join([]string{strings.ToLower(m.Host), m.Path, m.PathPrefix, strings.Join(slices.Compact(ms), ",")}, "\x00")
}

func (v *validator) host(i int, base Settings, names map[string]int, seen map[string]int) {
	h := &v.c.Hosts[i]
	p := fmt.Sprintf("hosts[%d]", i)
	hostOK := false
	switch j, dup := seen[strings.ToLower(h.Host)]; {
	case h.Host == "":
		v.add(p+".host", "required: an exact host name or a pattern such as *.s3.us-east-1.amazonaws.com")
	case dup:
		v.add(p+".host", "%q is already listed in hosts[%d]%s", h.Host, j, v.lineOf(fmt.Sprintf("hosts[%d]", j)))
	default:
		seen[strings.ToLower(h.Host)] = i
		if msg := checkHostPattern(h.Host); msg != "" {
			v.add(p+".host", "%s", msg)
		} else {
			hostOK = true
		}
	}
	if pr := strings.ToLower(h.Protocol); pr != "" && pr != "http" && pr != "https" {
		v.add(p+".protocol", "%q is not http or https", h.Protocol)
	}
	if h.Port < 0 || h.Port > 65535 {
		v.add(p+".port", "%d is not a port (1-65535)", h.Port)
	}
	s := base
	if h.SettingsFrom != "" {
		j, ok := names[h.SettingsFrom]
		if !ok {
			v.add(p+".settings_from", "no route is named %q", h.SettingsFrom)
		} else {
			from := v.c.Routes[j].Settings
			from.Service, from.Region = "", ""
			s = merge(s, from)
		}
	}
	v.settings(p, h.Settings)
	// A pattern whose matches differ in service (*.us-east-1.amazonaws.com)
	// is resolved per request; a fixed one must be complete now.
	if hostOK && fixedPattern(h.Host) {
		v.merged(p, complete(merge(s, h.Settings), detectPattern(h.Host), true), h.Host)
	}
}

// settings checks the fields of one block as written, so each problem
// points at the block that has it.
func (v *validator) settings(p string, s Settings) {
	if s.Service != "" && !servicePattern.MatchString(s.Service) {
		v.add(p+".service", "%q is not a signing name such as s3, execute-api or es", s.Service)
	}
	if s.Region != "" && !regionPattern.MatchString(s.Region) {
		v.add(p+".region", "%q is not a region name such as us-east-1", s.Region)
	}
	v.enum(p+".payload", s.Payload)
	v.enum(p+".signing.algorithm", s.Signing.Algorithm)
	v.enum(p+".signing.mode", s.Signing.Mode)
	if l := s.Signing.Lifetime; l != 0 && (l < MinLifetime || l > MaxLifetime) {
		v.add(p+".signing.lifetime", "%s is out of range: a query signature lives %s to %s", l, MinLifetime, MaxLifetime)
	}
	for j, r := range s.Signing.RegionSet {
		if !regionSetItem.MatchString(r) {
			v.add(fmt.Sprintf("%s.signing.region_set[%d]", p, j), "%q is not a region or a pattern such as us-* or *", r)
		}
	}
	v.headers(p+".headers", s.Headers)
	if s.StripPrefix != "" && !strings.HasPrefix(s.StripPrefix, "/") {
		v.add(p+".strip_prefix", "%q must start with /", s.StripPrefix)
	}
	if t := s.Timeouts.Connect; t < 0 {
		v.add(p+".timeouts.connect", "must be a positive duration such as 10s")
	}
	if t := s.Timeouts.Response; t < 0 && t != NoTimeout {
		v.add(p+".timeouts.response", "must be a positive duration such as 30s, or none")
	}
	if t := s.Timeouts.BodyIdle; t < 0 && t != NoTimeout {
		v.add(p+".timeouts.body_idle", "must be a positive duration such as 60s, or none")
	}
	if n := s.Retries.MaxAttempts; n < 0 || n > 10 {
		v.add(p+".retries.max_attempts", "%d is out of range: 1 (send once) to 10", n)
	}
	if s.MaxBodySize < 0 {
		v.add(p+".max_body_size", "must be positive")
	}
	v.auth(p+".auth", s.Auth)
	v.credentials(p+".credentials", s.Credentials)
}

// enumValues lists the accepted values of each enumerated type; the JSON
// Schema is generated from the same table.
var enumValues = map[reflect.Type][]string{
	reflect.TypeFor[PayloadMode]():      anyStrings(PayloadModes()),
	reflect.TypeFor[Algorithm]():        {"sigv4", "sigv4a"},
	reflect.TypeFor[SignMode]():         {"header", "query"},
	reflect.TypeFor[AuthMethod]():       {"api_key", "sigv4", "jwt", "mtls", "none"},
	reflect.TypeFor[CredentialSource](): anyStrings(CredentialSources()),
	reflect.TypeFor[Unlisted]():         {"refuse", "tunnel"},
}

func anyStrings[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// enum checks a value of one of the enumerated types.
func (v *validator) enum(field string, val any) {
	rv := reflect.ValueOf(val)
	if rv.String() == "" || slices.Contains(enumValues[rv.Type()], rv.String()) {
		return
	}
	v.add(field, "%q is not one of %s", rv.String(), strings.Join(enumValues[rv.Type()], ", "))
}

// merged checks what only the merged settings of a route or host decide.
func (v *validator) merged(p string, s Settings, host string) {
	v.mergedAuth(p, s.Auth)
	if s.Service == "" {
		v.add(p+".service", "required: the upstream host %q does not name a service (e.g. service: execute-api)", host)
	}
	if s.Region == "" && len(s.Signing.RegionSet) == 0 {
		if s.Service != "" {
			v.add(p+".region", "required when service is %q and the upstream host %q does not name a region", s.Service, host)
		} else {
			v.add(p+".region", "required when the upstream host %q does not name a region", host)
		}
	}
	if s.Payload == PayloadStreaming {
		if s.Service != "" && s.Service != "s3" {
			v.add(p+".payload", "streaming is S3's chunk signing; service is %q (use signed)", s.Service)
		}
		if s.Signing.Mode == SignQuery {
			v.add(p+".payload", "streaming needs header signing; signing.mode is query")
		}
	}
	if len(s.Signing.RegionSet) > 0 && s.Signing.Algorithm != SigV4A {
		v.add(p+".signing.region_set", "only used with algorithm sigv4a")
	}
	for _, h := range s.Headers.Unsigned {
		if slices.ContainsFunc(s.Headers.SignedOnly, func(x string) bool { return strings.EqualFold(x, h) }) {
			v.add(p+".headers.unsigned", "%q is also in signed_only", h)
		}
	}
}

func (v *validator) headers(p string, h Headers) {
	for k, val := range h.Add {
		switch {
		case !headerToken.MatchString(k):
			v.add(p+".add."+k, "%q is not a header name", k)
		case slices.Contains(reservedHeaders, strings.ToLower(k)):
			v.add(p+".add."+k, "%s is set by signing or by the transport and cannot be added", k)
		case strings.ContainsAny(val, "\r\n\x00"):
			v.add(p+".add."+k, "the value must not contain line breaks or NUL")
		}
	}
	lists := []struct {
		name   string
		items  []string
		prefix bool
	}{{"remove", h.Remove, false}, {"unsigned", h.Unsigned, true}, {"signed_only", h.SignedOnly, false}}
	for _, l := range lists {
		for j, x := range l.items {
			f := fmt.Sprintf("%s.%s[%d]", p, l.name, j)
			name := x
			if l.prefix {
				name = strings.TrimSuffix(x, "*")
			}
			if !headerToken.MatchString(name) || strings.Contains(name, "*") {
				v.add(f, "%q is not a header name%s", x, map[bool]string{true: " (or a prefix ending in *)"}[l.prefix])
			}
		}
	}
}

func (v *validator) credentials(p string, cr Credentials) {
	v.enum(p+".source", cr.Source)
	keys := !cr.AccessKeyID.IsZero() || !cr.SecretAccessKey.IsZero() || !cr.SessionToken.IsZero()
	switch {
	case keys && cr.Source != "" && cr.Source != SourceStatic:
		v.add(p+".source", "is %q, but static keys are given: use source static or remove the keys", cr.Source)
	case keys || cr.Source == SourceStatic:
		if cr.AccessKeyID.IsZero() {
			v.add(p+".access_key_id", "required: static credentials need both access_key_id and secret_access_key")
		}
		if cr.SecretAccessKey.IsZero() {
			v.add(p+".secret_access_key", "required: static credentials need both access_key_id and secret_access_key")
		}
	}
	switch cr.Source {
	case "", SourceDefault, SourceProfile, SourceSSO, SourceProcess:
	default:
		if cr.Profile != "" {
			v.add(p+".profile", "only used with source default, profile, sso or process")
		}
	}
	if cr.AssumeRole != nil {
		v.assumeRole(p+".assume_role", cr.AssumeRole, false)
	}
	switch ra := cr.RolesAnywhere; {
	case ra == nil && cr.Source == SourceRolesAnywhere:
		v.add(p+".roles_anywhere", "required with source roles_anywhere: certificate_file, private_key_file, trust_anchor_arn, profile_arn and role_arn")
	case ra == nil:
	case cr.Source != "" && cr.Source != SourceRolesAnywhere:
		v.add(p+".roles_anywhere", "only used with source roles_anywhere (source is %q)", cr.Source)
	default:
		v.rolesAnywhere(p+".roles_anywhere", ra)
	}
	switch w := cr.WebIdentity; {
	case w == nil && cr.Source == SourceCallerWebIdentity:
		v.add(p+".web_identity", "required with source caller_web_identity: the role each caller's token is exchanged for")
	case w == nil:
	case cr.Source != "" && cr.Source != SourceCallerWebIdentity:
		v.add(p+".web_identity", "only used with source caller_web_identity (source is %q)", cr.Source)
	default:
		v.webIdentity(p+".web_identity", w)
	}
}

func (v *validator) rolesAnywhere(p string, ra *RolesAnywhere) {
	for _, f := range []struct{ name, val string }{{"certificate_file", ra.CertificateFile}, {"private_key_file", ra.PrivateKeyFile}} {
		if f.val == "" {
			v.add(p+"."+f.name, "required: a PEM file path")
		}
	}
	regions := map[string]string{}
	for _, f := range []struct{ name, val, kind string }{{"trust_anchor_arn", ra.TrustAnchorARN, "trust-anchor"}, {"profile_arn", ra.ProfileARN, "profile"}} {
		m := rolesAnywhereARN.FindStringSubmatch(f.val)
		switch {
		case f.val == "":
			v.add(p+"."+f.name, "required: arn:aws:rolesanywhere:REGION:ACCOUNT:%s/ID", f.kind)
		case m == nil || m[2] != f.kind:
			v.add(p+"."+f.name, "%q is not a Roles Anywhere %s ARN such as arn:aws:rolesanywhere:us-east-1:123456789012:%s/ID", f.val, f.kind, f.kind)
		default:
			regions[f.name] = m[1]
		}
	}
	if a, b := regions["trust_anchor_arn"], regions["profile_arn"]; a != "" && b != "" && a != b {
		v.add(p+".profile_arn", "is in %s but the trust anchor is in %s: Roles Anywhere needs both in one region", b, a)
	}
	switch {
	case ra.RoleARN == "":
		v.add(p+".role_arn", "required: one of the profile's roles, arn:aws:iam::123456789012:role/NAME")
	case !roleARN.MatchString(ra.RoleARN):
		v.add(p+".role_arn", "%q is not a role ARN such as arn:aws:iam::123456789012:role/NAME", ra.RoleARN)
	}
	v.sessionDuration(p+".duration", ra.Duration)
}

func (v *validator) assumeRole(p string, ar *AssumeRole, inChain bool) {
	switch {
	case ar.RoleARN == "":
		v.add(p+".role_arn", "required: the ARN of the role to assume, arn:aws:iam::123456789012:role/NAME")
	case !roleARN.MatchString(ar.RoleARN):
		v.add(p+".role_arn", "%q is not a role ARN such as arn:aws:iam::123456789012:role/NAME", ar.RoleARN)
	}
	v.pattern(p+".session_name", ar.SessionName, sessionName, "2-64 of A-Z a-z 0-9 _+=,.@-")
	if x := ar.ExternalID; x != "" && (len(x) < 2 || len(x) > 1224 || !externalID.MatchString(x)) {
		v.add(p+".external_id", "must be 2-1224 of A-Z a-z 0-9 _+=,.@:/-")
	}
	v.pattern(p+".source_identity", ar.SourceIdentity, sessionName, "2-64 of A-Z a-z 0-9 _+=,.@-")
	v.sessionDuration(p+".duration", ar.Duration)
	if len(ar.Tags) > 50 {
		v.add(p+".tags", "%d session tags; STS takes at most 50", len(ar.Tags))
	}
	for k, val := range ar.Tags {
		if !tagKey.MatchString(k) || len(val) > 256 {
			v.add(p+".tags."+k, "a tag key is 1-128 and a value at most 256 letters, digits, spaces and _.:/=+-@")
		}
	}
	v.sts(p, ar.STSRegion, ar.STSEndpoint)
	if inChain && len(ar.Chain) > 0 {
		v.add(p+".chain", "a chain entry cannot have its own chain: list every role in the first chain, in order")
		return
	}
	for j := range ar.Chain {
		v.assumeRole(fmt.Sprintf("%s.chain[%d]", p, j), &ar.Chain[j], true)
	}
}

func (v *validator) webIdentity(p string, w *WebIdentity) {
	switch {
	case w.RoleARN != "" && (w.AccountID != "" || w.RoleName != ""):
		v.add(p+".role_arn", "give role_arn, or account_id and role_name, not both")
	case w.RoleARN != "":
		if !roleARN.MatchString(w.RoleARN) {
			v.add(p+".role_arn", "%q is not a role ARN such as arn:aws:iam::123456789012:role/NAME", w.RoleARN)
		}
	case w.AccountID == "" && w.RoleName == "":
		v.add(p+".role_arn", "required: the role callers' tokens are exchanged for (role_arn, or account_id and role_name)")
	default:
		if !accountID.MatchString(w.AccountID) {
			v.add(p+".account_id", "%q is not a 12-digit AWS account ID", w.AccountID)
		}
		if !roleName.MatchString(w.RoleName) {
			v.add(p+".role_name", "%q is not a role name (1-64 of A-Z a-z 0-9 _+=,.@-)", w.RoleName)
		}
	}
	v.pattern(p+".session_name", w.SessionName, sessionName, "2-64 of A-Z a-z 0-9 _+=,.@-")
	v.sessionDuration(p+".duration", w.Duration)
	if w.TokenHeader != "" && !headerToken.MatchString(w.TokenHeader) {
		v.add(p+".token_header", "%q is not a header name", w.TokenHeader)
	}
	if w.CacheSize < 0 {
		v.add(p+".cache_size", "must be positive (default 10000)")
	}
	v.sts(p, w.STSRegion, w.STSEndpoint)
}

func (v *validator) pattern(field, val string, re matcher, want string) {
	if val != "" && !re.MatchString(val) {
		v.add(field, "%q is not valid: %s", val, want)
	}
}

func (v *validator) sessionDuration(field string, d Duration) {
	if d != 0 && (d < Duration(15*time.Minute) || d > Duration(12*time.Hour)) {
		v.add(field, "%s is out of range: STS sessions last 15m to 12h", d)
	}
}

func (v *validator) sts(p, region, endpoint string) {
	if region != "" && !regionPattern.MatchString(region) {
		v.add(p+".sts_region", "%q is not a region name such as us-east-1", region)
	}
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			v.add(p+".sts_endpoint", "%q must be an absolute http:// or https:// URL without user info", endpoint)
		}
	}
}
