package config

import "time"

// The comments on the fields below are the user documentation of the file
// format: docs/config.md and schema/signway.schema.json follow them. A zero
// value always means "not set": WithDefaults fills in the documented default.

// Config is one signway configuration file.
type Config struct {
	// Listen is where callers connect. Default address 0.0.0.0:8080.
	Listen Listen `yaml:"listen"`
	// Utility serves /healthz, /health, /readyz and /metrics. Default
	// address 0.0.0.0:9090.
	Utility Utility `yaml:"utility"`
	// Defaults are settings every route and host entry inherits; a setting
	// on the route wins. The credentials block is inherited as a whole.
	Defaults Settings `yaml:"defaults"`
	// Hosts is host-based mode: the upstream is the caller's Host header, but
	// only when it is on this allowlist. A caller's Host that matches no entry
	// (and no route) gets 403 and nothing is signed.
	Hosts []HostRule `yaml:"hosts"`
	// Routes are matched by host, path and method; the most specific match
	// wins, host first: an exact host before a *.suffix (the longer suffix
	// first) before no host; then an exact path before a path prefix (the
	// longer first) before no path; then a route that lists methods. Host
	// entries take part as routes matching their host alone; among equal
	// matches the first written wins, routes before host entries.
	Routes []Route `yaml:"routes"`
	// Callers are the known callers: their API keys, signway-issued SigV4
	// key pairs, client certificates, rate limits and own credentials.
	// Routes say in auth which methods and callers they accept.
	Callers []Caller `yaml:"callers"`
	// RateLimits says where the callers' rate limits are counted.
	RateLimits RateLimits `yaml:"rate_limits"`
	// Limits bound what the whole gateway holds, across routes.
	Limits Limits `yaml:"limits"`
	// AccessLog is where one line per request goes: off (the default),
	// stdout, stderr, or a file path (appended to). Lines are JSON or text
	// as --log-format says. Read at startup; a reload keeps the first value.
	AccessLog string `yaml:"access_log"`
	// Authz serves signing as a service to gateways (ext_authz, auth
	// subrequests) on listeners of its own.
	Authz Authz `yaml:"authz"`
	// ForwardProxy lets clients use signway as their HTTPS_PROXY.
	ForwardProxy *ForwardProxy `yaml:"forward_proxy"`

	// lines maps field paths ("routes[2].region") to YAML lines; set by Parse
	// and read only afterwards, so copies may share it.
	lines map[string]int
}

// Listen is the callers' listener.
type Listen struct {
	// Address is host:port, :port or a port number.
	Address string `yaml:"address"`
	// TLS serves HTTPS with a PEM certificate chain and key, re-read when
	// the files change. Both or neither.
	TLS ListenTLS `yaml:"tls"`
}

// ListenTLS names the listener's certificate files.
type ListenTLS struct {
	// CertFile is the PEM certificate chain.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile is a PEM bundle of the CAs that issue callers' client
	// certificates: when set, a client certificate is asked for (not
	// required: routes with auth method mtls refuse callers without one).
	ClientCAFile string `yaml:"client_ca_file"`
}

// Utility is the health and metrics listener.
type Utility struct {
	// Address is host:port, :port or a port number.
	Address string `yaml:"address"`
	// Pprof serves /debug/pprof/ on this listener.
	Pprof bool `yaml:"pprof"`
}

// Settings is everything about signing and forwarding that a route, a host
// entry and the defaults block share.
type Settings struct {
	// Service is the signing name (s3, execute-api, lambda, es, aoss,
	// dynamodb, ...). Default: detected from the upstream host.
	Service string `yaml:"service"`
	// Region is the signing region. Default: detected from the upstream
	// host; write region: ${AWS_REGION} to take it from the environment.
	Region string `yaml:"region"`
	// Credentials are the AWS credentials to sign with. Default: the AWS
	// SDK's default chain.
	Credentials Credentials `yaml:"credentials"`
	// Payload is how bodies are covered by the signature: auto (default:
	// S3 PutObject and UploadPart bodies of known length are streamed with
	// chunk signatures, as streaming; every other body is hashed, as
	// signed), unsigned, signed, or streaming (every S3 body of known
	// length with chunk signatures).
	Payload PayloadMode `yaml:"payload"`
	// Signing is the algorithm and where the signature goes.
	Signing Signing `yaml:"signing"`
	// Headers are added, removed, or left out of the signature.
	Headers Headers `yaml:"headers"`
	// StripPrefix is removed from the start of the request path before it is
	// appended to the upstream URL's path: /api/orders with strip_prefix /api
	// goes to UPSTREAM/orders.
	StripPrefix string `yaml:"strip_prefix"`
	// Timeouts towards the upstream.
	Timeouts Timeouts `yaml:"timeouts"`
	// MaxBodySize is the largest body hashed before signing; larger gets 413.
	// Bytes, or a size such as 512MiB or 5GiB. Default 5GiB.
	MaxBodySize ByteSize `yaml:"max_body_size"`
	// UpstreamTLS is how the upstream's certificate is verified.
	UpstreamTLS UpstreamTLS `yaml:"upstream_tls"`
	// Retries resend idempotent requests that failed before an answer.
	Retries Retries `yaml:"retries"`
	// Auth is who may use the route: the methods that admit a caller and
	// the callers allowed. Default: no authentication.
	Auth Auth `yaml:"auth"`
	// Debug logs, for every request, the canonical request, the string to
	// sign and the signed header names (secrets and signatures redacted),
	// to compare with what AWS says it expected after a SignatureDoesNotMatch.
	Debug bool `yaml:"debug"`
}

// Retries are how often a request is sent again, re-signed with a fresh
// date, after a backoff with jitter and within the request's deadline: only
// GET, HEAD, OPTIONS, PUT and DELETE whose body can be sent again (none, or
// one hashed before sending), when the upstream failed before any response
// (connection refused or reset, HTTP/2 GOAWAY) or S3 answered SlowDown,
// InternalError or ServiceUnavailable. Never once a response has begun.
type Retries struct {
	// MaxAttempts counts the first attempt: 1 never retries. Default 3, at most 10.
	MaxAttempts int `yaml:"max_attempts"`
}

// Route is one upstream and how requests to it are matched and signed.
type Route struct {
	// Name identifies the route in logs and metrics. Required, unique;
	// letters, digits, '.', '_' and '-'.
	Name string `yaml:"name"`
	// Match selects the requests for this route; an empty match takes all.
	Match Match `yaml:"match"`
	// URL is the upstream: absolute http(s), no user info, query or fragment.
	// Its path, if any, is prepended to the (stripped) request path.
	URL string `yaml:"url"`
	// OverrideTargetHost is the upstream host, the Kong plugin's way of
	// giving the upstream; use it or url, not both.
	OverrideTargetHost string `yaml:"override_target_host"`
	// OverrideTargetPort defaults to 443 for https and 80 for http.
	OverrideTargetPort int `yaml:"override_target_port"`
	// OverrideTargetProtocol is https (default) or http.
	OverrideTargetProtocol string `yaml:"override_target_protocol"`
	// Presign enables POST /.signway/presign for this route.
	Presign *Presign `yaml:"presign"`

	Settings `yaml:",inline"`
}

// Match selects requests. Every field that is set must match.
type Match struct {
	// Host is the caller's Host (port ignored): an exact name, or *.suffix
	// for any name ending in .suffix.
	Host string `yaml:"host"`
	// PathPrefix matches paths that start with it, at a segment boundary:
	// /api matches /api and /api/x, not /apis.
	PathPrefix string `yaml:"path_prefix"`
	// Path matches exactly this path.
	Path string `yaml:"path"`
	// Methods restricts the HTTP methods; empty takes all.
	Methods []string `yaml:"methods"`
}

// HostRule is one entry of the host-based allowlist.
type HostRule struct {
	// Host is an exact name (an IP literal is allowed only here) or a
	// pattern *.suffix matching any name ending in .suffix.
	Host string `yaml:"host"`
	// Protocol towards the upstream: https (default) or http. The caller
	// cannot choose it.
	Protocol string `yaml:"protocol"`
	// Port towards the upstream; default 443 for https, 80 for http. The
	// caller's port is ignored.
	Port int `yaml:"port"`
	// SettingsFrom names a route whose settings this entry uses, except its
	// upstream, match, service and region (those come from the caller's
	// host); settings given here win over it.
	SettingsFrom string `yaml:"settings_from"`

	Settings `yaml:",inline"`
}

// PayloadMode says how a request body is covered by the signature. Whatever
// the mode, a request without a body is signed with the empty body's hash,
// and an S3 presigned URL (signing.mode query) never covers the body.
type PayloadMode string

// Payload modes.
const (
	// PayloadAuto: S3 PutObject and UploadPart bodies of known length are
	// streamed with chunk signatures, as PayloadStreaming; every other body
	// is hashed, as PayloadSigned.
	PayloadAuto PayloadMode = "auto"
	// PayloadUnsigned sends UNSIGNED-PAYLOAD and streams the body
	// untouched (an S3 body of unknown length is spooled first: S3 needs
	// the length).
	PayloadUnsigned PayloadMode = "unsigned"
	// PayloadSigned hashes the body while spooling it, up to
	// max_body_size, then signs the hash.
	PayloadSigned PayloadMode = "signed"
	// PayloadStreaming sends every S3 body of known length as aws-chunked
	// with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): signed in
	// bounded memory, never spooled. Other bodies are hashed as with
	// PayloadSigned.
	PayloadStreaming PayloadMode = "streaming"
)

// PayloadModes lists the payload modes.
func PayloadModes() []PayloadMode {
	return []PayloadMode{PayloadAuto, PayloadUnsigned, PayloadSigned, PayloadStreaming}
}

// Algorithm is the signature algorithm.
type Algorithm string

// Signing algorithms.
const (
	SigV4  Algorithm = "sigv4"
	SigV4A Algorithm = "sigv4a"
)

// The range of a query signature's lifetime.
const (
	MinLifetime = Duration(time.Second)
	MaxLifetime = Duration(7 * 24 * time.Hour)
)

// SignMode is where the signature goes.
type SignMode string

// Signing modes.
const (
	SignHeader SignMode = "header" // Authorization header
	SignQuery  SignMode = "query"  // presigned URL
)

// Signing is the algorithm and where the signature goes.
type Signing struct {
	// Algorithm is sigv4 or sigv4a (multi-region). Default sigv4, except
	// for an S3 Multi-Region Access Point host
	// (*.mrap.accesspoint.s3-global.amazonaws.com): sigv4a over ["*"].
	Algorithm Algorithm `yaml:"algorithm"`
	// RegionSet is the SigV4A region set, e.g. [us-east-1, us-west-2] or
	// ["*"]; default [region], or ["*"] for a Multi-Region Access Point.
	// Only with sigv4a.
	RegionSet []string `yaml:"region_set"`
	// Mode is header (default) or query.
	Mode SignMode `yaml:"mode"`
	// Lifetime of a query signature, 1s to 7d; default 15m. Ignored in
	// header mode.
	Lifetime Duration `yaml:"lifetime"`
}

// Headers changes the request's headers towards the upstream.
type Headers struct {
	// Add sets these headers (replacing the caller's); they are signed.
	Add map[string]string `yaml:"add"`
	// Remove deletes these headers from the caller's request.
	Remove []string `yaml:"remove"`
	// Unsigned headers are sent but left out of the signature, for headers
	// a hop between signway and AWS may change. A trailing * is a prefix.
	Unsigned []string `yaml:"unsigned"`
	// SignedOnly restricts signing to these headers (plus host and the
	// x-amz-* headers AWS requires to be signed).
	SignedOnly []string `yaml:"signed_only"`
}

// Limits bound what the whole gateway holds, across routes.
type Limits struct {
	// SpoolMemory is the memory all bodies being hashed before signing may
	// hold together; beyond it further bodies are spooled straight to a
	// temporary file. Bytes, or a size such as 256MiB. Default 256MiB.
	SpoolMemory ByteSize `yaml:"spool_memory"`
}

// Timeouts towards the upstream.
type Timeouts struct {
	// Connect covers dialling and the TLS handshake; default 10s.
	Connect Duration `yaml:"connect"`
	// Response is from the upstream receiving the whole request to its
	// response headers; default 30s, none to disable. Bodies may stream
	// for longer.
	Response Duration `yaml:"response"`
	// BodyIdle is how long a request body may make no progress: a caller
	// that sends nothing for this long gets 408, an upstream that reads
	// nothing of it 504; default 60s, none to disable.
	BodyIdle Duration `yaml:"body_idle"`
}

// UpstreamTLS is how the upstream's certificate is verified.
type UpstreamTLS struct {
	// CAFile is a PEM bundle of extra root CAs.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify does not verify the upstream's certificate
	// (logged as a warning at startup). For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}
