package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// route wraps route fields (indented four spaces) into a one-route config.
func route(fields string) string {
	return "routes:\n  - name: r\n" + fields
}

const s3URL = "    url: https://b.s3.us-east-1.amazonaws.com\n"

func TestEachProblem(t *testing.T) {
	for _, tc := range []struct{ name, yml, want string }{
		{"missing name", "routes:\n  - url: https://b.s3.us-east-1.amazonaws.com\n", "routes[0].name (line 2): required"},
		{"bad name", "routes:\n  - name: a b\n" + s3URL, `routes[0].name (line 2): "a b" may hold only`},
		{"no upstream", route(""), "routes[0].url (line 2): an upstream is required"},
		{"relative url", route("    url: /x\n"), `routes[0].url (line 3): "/x" must be an absolute http:// or https:// URL`},
		{"ftp url", route("    url: ftp://b.s3.us-east-1.amazonaws.com\n"), "must be an absolute http:// or https:// URL"},
		{"url with query", route("    url: https://b.s3.us-east-1.amazonaws.com/?x=1\n"), "must not have a query or a fragment"},
		{"url and override", route(s3URL + "    override_target_host: b.s3.us-east-1.amazonaws.com\n"), "routes[0].override_target_host (line 4): give the upstream either as url or as override_target_host, not both"},
		{"override port without host", route("    override_target_port: 443\n"), "routes[0].override_target_host (line 2): required with override_target_port"},
		{"override host with scheme", route("    override_target_host: https://x.example\n"), "must be a host name alone"},
		{"override bad protocol", route("    override_target_host: b.s3.us-east-1.amazonaws.com\n    override_target_protocol: ftp\n"), `routes[0].override_target_protocol (line 4): "ftp" is not http or https`},
		{"override bad port", route("    override_target_host: b.s3.us-east-1.amazonaws.com\n    override_target_port: 70000\n"), "70000 is not a port"},
		{"no service", route("    url: https://api.internal.example\n    region: us-east-1\n"), `routes[0].service (line 2): required: the upstream host "api.internal.example" does not name a service`},
		{"no region", route("    url: https://api.internal.example\n"), `routes[0].region (line 2): required when the upstream host "api.internal.example" does not name a region`},
		{"bad region", route(s3URL + "    region: US East\n"), `"US East" is not a region name`},
		{"unknown algorithm", route(s3URL + "    signing: {algorithm: sigv5}\n"), `routes[0].signing.algorithm (line 4): "sigv5" is not one of sigv4, sigv4a`},
		{"unknown mode", route(s3URL + "    signing: {mode: cookie}\n"), `"cookie" is not one of header, query`},
		{"lifetime too short", route(s3URL + "    signing: {mode: query, lifetime: 500ms}\n"), "routes[0].signing.lifetime (line 4): 500ms is out of range"},
		{"region_set without sigv4a", route(s3URL + "    signing: {region_set: [us-east-1]}\n"), "routes[0].signing.region_set (line 4): only used with algorithm sigv4a"},
		{"streaming to es", route("    url: https://search-x.us-east-1.es.amazonaws.com\n    payload: streaming\n"), `routes[0].payload (line 4): streaming is S3's chunk signing; service is "es"`},
		{"streaming with query", route(s3URL + "    payload: streaming\n    signing: {mode: query}\n"), "streaming needs header signing"},
		{"path and prefix", route(s3URL + "    match: {path: /a, path_prefix: /b}\n"), "routes[0].match.path (line 4): give path (exact) or path_prefix, not both"},
		{"relative path", route(s3URL + "    match: {path_prefix: a}\n"), `routes[0].match.path_prefix (line 4): "a" must be a path starting with /`},
		{"bad method", route(s3URL + "    match: {methods: [GET, FETCH]}\n"), `routes[0].match.methods[1] (line 4): "FETCH" is not one of`},
		{"broad host", route(s3URL + "    match: {host: \"*.com\"}\n"), "is too broad"},
		{"mid wildcard", route(s3URL + "    match: {host: \"a.*.com\"}\n"), "a wildcard is allowed only as the whole first label"},
		{"host with port", route(s3URL + "    match: {host: \"a.example:80\"}\n"), "the port is not part of a host match"},
		{"IPv6 host", "hosts:\n  - host: \"[::1]\"\n    service: s3\n    region: us-east-1\n", `hosts[0].host (line 2): "[::1]": an IPv6 address cannot be matched`},
		{"bad strip_prefix", route(s3URL + "    strip_prefix: api\n"), `routes[0].strip_prefix (line 4): "api" must start with /`},
		{"negative timeout", route(s3URL + "    timeouts: {response: -1s}\n"), "routes[0].timeouts.response (line 4): must be a positive duration"},
		{"none connect", route(s3URL + "    timeouts: {connect: none}\n"), "routes[0].timeouts.connect (line 4): must be a positive duration"},
		{"auth method", route(s3URL + "    auth: {methods: [basic]}\n"), `routes[0].auth.methods[0] (line 4): "basic" is not one of api_key, sigv4, jwt, mtls, none`},
		{"negative body_idle", route(s3URL + "    timeouts: {body_idle: -5s}\n"), "routes[0].timeouts.body_idle (line 4): must be a positive duration such as 60s, or none"},
		{"negative spool_memory", route(s3URL) + "limits: {spool_memory: -1}\n", `limits.spool_memory (line 4): "-1" is not a size`},
		{"reserved header", route(s3URL + "    headers: {add: {Authorization: x}}\n"), "routes[0].headers.add.Authorization (line 4): Authorization is set by signing"},
		{"bad header name", route(s3URL + "    headers: {remove: [\"a b\"]}\n"), `routes[0].headers.remove[0] (line 4): "a b" is not a header name`},
		{"header signed and unsigned", route(s3URL + "    headers: {unsigned: [x-a], signed_only: [X-A]}\n"), `routes[0].headers.unsigned (line 4): "x-a" is also in signed_only`},
		{"unknown source", route(s3URL + "    credentials: {source: vault}\n"), `routes[0].credentials.source (line 4): "vault" is not one of default, env, profile, static,`},
		{"static without keys", route(s3URL + "    credentials: {source: static}\n"), "routes[0].credentials.access_key_id (line 4): required"},
		{"keys with other source", route(s3URL + "    credentials: {source: env, access_key_id: '${A}', secret_access_key: '${S}'}\n"), `routes[0].credentials.source (line 4): is "env", but static keys are given`},
		{"profile with imds", route(s3URL + "    credentials: {source: imds, profile: dev}\n"), "routes[0].credentials.profile (line 4): only used with source default, profile, sso or process"},
		{"assume_role without arn", route(s3URL + "    credentials: {assume_role: {session_name: s}}\n"), "routes[0].credentials.assume_role.role_arn (line 4): required"},
		{"assume_role duration", route(s3URL + "    credentials: {assume_role: {role_arn: 'arn:aws:iam::123456789012:role/r', duration: 13h}}\n"), "routes[0].credentials.assume_role.duration (line 4): 13h0m0s is out of range: STS sessions last 15m to 12h"},
		{"nested chain", route(s3URL + "    credentials: {assume_role: {role_arn: 'arn:aws:iam::123456789012:role/r', chain: [{role_arn: 'arn:aws:iam::123456789012:role/s', chain: [{role_arn: 'arn:aws:iam::123456789012:role/t'}]}]}}\n"), "routes[0].credentials.assume_role.chain[0].chain (line 4): a chain entry cannot have its own chain"},
		{"bad sts endpoint", route(s3URL + "    credentials: {assume_role: {role_arn: 'arn:aws:iam::123456789012:role/r', sts_endpoint: 'sts.local'}}\n"), `routes[0].credentials.assume_role.sts_endpoint (line 4): "sts.local" must be an absolute`},
		{"web identity without role", route(s3URL + "    credentials: {source: caller_web_identity, web_identity: {token_header: X-Token}}\n"), "routes[0].credentials.web_identity.role_arn (line 4): required: the role callers' tokens are exchanged for"},
		{"caller web identity without block", route(s3URL + "    credentials: {source: caller_web_identity}\n"), "routes[0].credentials.web_identity (line 4): required with source caller_web_identity"},
		{"web identity both forms", route(s3URL + "    credentials: {web_identity: {role_arn: 'arn:aws:iam::123456789012:role/r', account_id: '123456789012'}}\n"), "give role_arn, or account_id and role_name, not both"},
		{"web identity bad account", route(s3URL + "    credentials: {web_identity: {account_id: '1234', role_name: r}}\n"), `routes[0].credentials.web_identity.account_id (line 4): "1234" is not a 12-digit AWS account ID`},
		{"roles anywhere without block", route(s3URL + "    credentials: {source: roles_anywhere}\n"), "routes[0].credentials.roles_anywhere (line 4): required with source roles_anywhere"},
		{"roles anywhere block with another source", route(s3URL + "    credentials: {source: imds, roles_anywhere: {certificate_file: c.pem}}\n"), `routes[0].credentials.roles_anywhere (line 4): only used with source roles_anywhere (source is "imds")`},
		{"roles anywhere missing fields", route(s3URL + "    credentials: {source: roles_anywhere, roles_anywhere: {certificate_file: c.pem}}\n"), "routes[0].credentials.roles_anywhere.private_key_file (line 4): required"},
		{"roles anywhere bad trust anchor", route(s3URL + "    credentials: {source: roles_anywhere, roles_anywhere: {trust_anchor_arn: 'arn:aws:rolesanywhere:eu-west-1:123456789012:profile/p'}}\n"), `routes[0].credentials.roles_anywhere.trust_anchor_arn (line 4): "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/p" is not a Roles Anywhere trust-anchor ARN`},
		{"roles anywhere regions differ", route(s3URL + "    credentials: {source: roles_anywhere, roles_anywhere: {trust_anchor_arn: 'arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/t', profile_arn: 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/p'}}\n"), "routes[0].credentials.roles_anywhere.profile_arn (line 4): is in us-east-1 but the trust anchor is in eu-west-1"},
		{"roles anywhere long duration", route(s3URL + "    credentials: {source: roles_anywhere, roles_anywhere: {duration: 24h}}\n"), "routes[0].credentials.roles_anywhere.duration (line 4)"},
		{"authz address taken", "authz: {http_address: ':9090'}\n" + route(s3URL), "authz.http_address (line 1): is the same address as utility.address"},
		{"authz bad address", "authz: {grpc_address: 'no port'}\n" + route(s3URL), "authz.grpc_address (line 1)"},
		{"envoy prefix", "authz: {http_address: ':9001', envoy_path_prefix: authz}\n" + route(s3URL), `authz.envoy_path_prefix (line 1): "authz" must start with /`},
		{"presign lifetime", route(s3URL + "    presign: {max_lifetime: 8d}\n"), "routes[0].presign.max_lifetime (line 4)"},
		{"presign method", route(s3URL + "    presign: {methods: [GET, FETCH]}\n"), `routes[0].presign.methods[1] (line 4): "FETCH" is not an HTTP method`},
		{"forward proxy without CA", "forward_proxy: {unlisted: refuse}\nhosts:\n  - host: '*.amazonaws.com'\n", "forward_proxy.ca_cert_file (line 1): required"},
		{"forward proxy unlisted", "forward_proxy: {ca_cert_file: c, ca_key_file: k, unlisted: allow}\nhosts:\n  - host: '*.amazonaws.com'\n", `forward_proxy.unlisted (line 1): "allow" is not one of refuse, tunnel`},
		{"forward proxy without hosts", "forward_proxy: {ca_cert_file: c, ca_key_file: k}\n" + route(s3URL), "forward_proxy (line 1): intercepts the hosts of the hosts: allowlist, and there are none"},
		{"web identity with other source", route(s3URL + "    credentials: {source: imds, web_identity: {role_arn: 'arn:aws:iam::123456789012:role/r'}}\n"), `only used with source caller_web_identity (source is "imds")`},
		{"listen tls half", "listen: {tls: {cert_file: c.pem}}\n" + route(s3URL), "listen.tls (line 1): cert_file and key_file go together"},
		{"same listeners", "listen: {address: '9090'}\n" + route(s3URL), "utility.address: is the same as listen.address"},
		{"access log directory", "access_log: /var/log/\n" + route(s3URL), `access_log (line 1): "/var/log/": give off, stdout, stderr or a file path`},
		{"access log padded", "access_log: ' stdout'\n" + route(s3URL), `access_log (line 1): " stdout": give off, stdout, stderr or a file path`},
		{"host pattern ip", "hosts:\n  - host: '*.[::1]'\n", "hosts[0].host (line 2): \"*.[::1]\": an IP address cannot be a pattern"},
		{"host duplicate", "hosts:\n  - host: dynamodb.us-east-1.amazonaws.com\n  - host: DynamoDB.us-east-1.amazonaws.com\n", `hosts[1].host (line 3): "DynamoDB.us-east-1.amazonaws.com" is already listed in hosts[0] (line 2)`},
		{"host settings_from unknown", "hosts:\n  - host: dynamodb.us-east-1.amazonaws.com\n    settings_from: nope\n", `hosts[0].settings_from (line 3): no route is named "nope"`},
		{"host without region", "hosts:\n  - host: search.internal.example\n    service: es\n", `hosts[0].region (line 2): required when service is "es" and the upstream host "search.internal.example" does not name a region`},
		{"defaults problem", "defaults: {payload: sometimes}\n" + route(s3URL), `defaults.payload (line 1): "sometimes" is not one of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yml), mapEnv(map[string]string{"A": "AKID", "S": "secret"}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestValidConfigs(t *testing.T) {
	for _, tc := range []struct{ name, yml string }{
		{"exact IP host entry", "hosts:\n  - {host: 10.0.0.7, service: s3, region: us-east-1, protocol: http, port: 9000}\n"},
		{"varying wildcard host", "hosts:\n  - host: '*.us-east-1.amazonaws.com'\n"},
		{"sigv4a without region", route("    url: https://mrap.accesspoint.s3-global.amazonaws.com\n    service: s3\n    signing: {algorithm: sigv4a, region_set: ['*']}\n")},
		{"kong upstream", route("    override_target_host: abc.lambda-url.us-east-2.on.aws\n")},
		{"file secrets", route(s3URL + "    credentials: {access_key_id: {file: /run/secrets/akid}, secret_access_key: {file: /run/secrets/sk}}\n")},
		{"response none", route(s3URL + "    timeouts: {response: none}\n")},
		{"signing service and presign", "authz: {http_address: '127.0.0.1:9001', grpc_address: '127.0.0.1:9002'}\n" + route(s3URL+"    presign: {max_lifetime: 1h, methods: [GET, PUT]}\n")},
		{"forward proxy", "forward_proxy: {ca_cert_file: /etc/signway/ca.pem, ca_key_file: /etc/signway/ca-key.pem, unlisted: refuse}\nhosts:\n  - host: '*.amazonaws.com'\n    auth: {methods: [sigv4]}\n"},
		{"roles anywhere", route(s3URL + "    credentials:\n      source: roles_anywhere\n      roles_anywhere:\n        certificate_file: /etc/signway/cert.pem\n        private_key_file: /etc/signway/key.pem\n        intermediates_file: /etc/signway/chain.pem\n        trust_anchor_arn: arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/a1b2\n        profile_arn: arn:aws:rolesanywhere:eu-west-1:123456789012:profile/c3d4\n        role_arn: arn:aws:iam::123456789012:role/workload\n        duration: 1h\n")},
		{"methods and hosts make matches distinct", "routes:\n  - {name: a, url: 'https://b.s3.us-east-1.amazonaws.com', match: {methods: [GET]}}\n  - {name: b, url: 'https://b.s3.us-east-1.amazonaws.com', match: {methods: [PUT]}}\n  - {name: c, url: 'https://b.s3.us-east-1.amazonaws.com', match: {host: a.example}}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.yml), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDefaultsMerged(t *testing.T) {
	cfg, err := Parse([]byte(`defaults:
  region: eu-west-1
  payload: signed
  signing: {mode: query}
  headers: {add: {X-Team: core, X-Env: prod}}
  timeouts: {connect: 3s}
  credentials: {source: profile, profile: ops}
limits: {spool_memory: 64MiB}
routes:
  - name: inherits
    url: https://api.internal.example
    service: execute-api
  - name: overrides
    match: {path_prefix: /o}
    url: https://b.s3.us-east-1.amazonaws.com
    region: us-west-2
    signing: {lifetime: 1h}
    timeouts: {body_idle: none}
    headers: {add: {X-Env: dev}}
    credentials: {source: imds}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Routes[0], cfg.Routes[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Listen.Address, "0.0.0.0:8080"},
		{"utility", cfg.Utility.Address, "0.0.0.0:9090"},
		{"a.region", a.Region, "eu-west-1"},
		{"a.payload", a.Payload, PayloadSigned},
		{"a.mode", a.Signing.Mode, SignQuery},
		{"a.algorithm", a.Signing.Algorithm, SigV4},
		{"a.lifetime", a.Signing.Lifetime, DefaultLifetime},
		{"a.connect", a.Timeouts.Connect, Duration(3 * time.Second)},
		{"a.response", a.Timeouts.Response, DefaultResponseTimeout},
		{"a.body_idle", a.Timeouts.BodyIdle, DefaultBodyIdleTimeout},
		{"b.body_idle", b.Timeouts.BodyIdle, NoTimeout},
		{"b.connect inherited", b.Timeouts.Connect, Duration(3 * time.Second)},
		{"limits.spool_memory", cfg.Limits.SpoolMemory, ByteSize(64 << 20)},
		{"a.max_body_size", a.MaxBodySize, ByteSize(5 << 30)},
		{"a.credentials", a.Credentials.Profile, "ops"},
		{"a.auth", a.Auth.Enabled(), false},
		{"b.service detected", b.Service, "s3"},
		{"b.region wins", b.Region, "us-west-2"},
		{"b.lifetime", b.Signing.Lifetime, Duration(time.Hour)},
		{"b.mode inherited", b.Signing.Mode, SignQuery},
		{"b.headers merged", b.Headers.Add, map[string]string{"X-Team": "core", "X-Env": "dev"}},
		{"b.credentials whole", b.Credentials, Credentials{Source: SourceIMDS}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	again := cfg.WithDefaults()
	if !reflect.DeepEqual(again, cfg) {
		t.Error("WithDefaults is not idempotent")
	}
	again.Routes[1].Headers.Add["X-Env"] = "changed"
	if cfg.Routes[1].Headers.Add["X-Env"] != "dev" {
		t.Error("WithDefaults shares a map with its input")
	}
}

// TestBuiltInCode is the command line's way in: a Config built in code, with
// zero values meaning the defaults, goes through the same Validate.
func TestBuiltInCode(t *testing.T) {
	c := &Config{Routes: []Route{{Name: "default", URL: "https://abc.execute-api.eu-west-1.amazonaws.com"}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	full := c.WithDefaults()
	r := full.Routes[0]
	if r.Service != "execute-api" || r.Region != "eu-west-1" || r.Credentials.Source != SourceDefault || r.Payload != PayloadAuto {
		t.Errorf("completed route %+v", r)
	}
	if c.Routes[0].Service != "" {
		t.Error("WithDefaults changed its receiver")
	}
	if full.Limits.SpoolMemory != DefaultSpoolMemory || r.Timeouts.BodyIdle != DefaultBodyIdleTimeout {
		t.Errorf("limits %+v, timeouts %+v: want the defaults", full.Limits, r.Timeouts)
	}
	bad := *c
	bad.Limits.SpoolMemory = -1
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "limits.spool_memory: must be positive") {
		t.Errorf("a negative spool_memory from code: %v", err)
	}
	c.Routes[0].URL = "https://api.internal.example"
	err := c.Validate()
	if err == nil || err.Error() != `routes[0].service: required: the upstream host "api.internal.example" does not name a service (e.g. service: execute-api)`+"\n"+
		`routes[0].region: required when the upstream host "api.internal.example" does not name a region` {
		t.Errorf("got %v", err)
	}
	u, _ := (&Route{OverrideTargetHost: "localhost", OverrideTargetPort: 8000, OverrideTargetProtocol: "http"}).Upstream()
	if u.String() != "http://localhost:8000" {
		t.Errorf("upstream %s", u)
	}
	u, _ = (&Route{OverrideTargetHost: "h.example", OverrideTargetPort: 443}).Upstream()
	if u.String() != "https://h.example" {
		t.Errorf("upstream %s", u)
	}
}

func TestHostRuleDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`routes:
  - name: s3
    url: https://b.s3.us-east-1.amazonaws.com
    payload: signed
hosts:
  - host: '*.s3.eu-west-1.amazonaws.com'
    settings_from: s3
  - host: '*.us-east-1.amazonaws.com'
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	h0, h1 := cfg.Hosts[0], cfg.Hosts[1]
	if h0.Service != "s3" || h0.Region != "eu-west-1" || h0.Payload != PayloadSigned || h0.Protocol != "https" || h0.Port != 443 {
		t.Errorf("hosts[0] = %+v", h0)
	}
	if h1.Service != "" || h1.Region != "us-east-1" {
		t.Errorf("hosts[1]: service %q (varies per host: left to the request) region %q", h1.Service, h1.Region)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	const akid, secret, token = "AKIDSHOWNNEVER", "SECRETSHOWNNEVERxyz", "TOKENSHOWNNEVER"
	env := map[string]string{"AK": akid, "SK": secret, "ST": token}
	cfg, err := Parse([]byte(`routes:
  - name: r
    url: https://b.s3.us-east-1.amazonaws.com
    credentials:
      access_key_id: ${AK}
      secret_access_key: ${SK}
      session_token: ${ST}
`), mapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	cr := cfg.Routes[0].Credentials
	if v, _ := cr.SecretAccessKey.Value(); v != secret {
		t.Fatalf("Value() = %q", v)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v %+v %#v %s %q %x\n", cfg, cfg, cfg, cr.SecretAccessKey, cr.SecretAccessKey, cr.SessionToken)
	fmt.Fprint(&buf, *cfg, cr, &cr, cfg.Routes)
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(h).Info("config", "cfg", cfg, "route", cfg.Routes[0], "secret", cr.SecretAccessKey, "creds", cr)
	}
	y, err := yaml.Marshal(cfg.Routes[0])
	if err != nil {
		t.Fatal(err)
	}
	buf.Write(y)
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	buf.Write(j)
	// A broken config's error must not show them either.
	_, perr := Parse([]byte(`routes:
  - name: r
    credentials: {access_key_id: '${AK}', secret_access_key: '${SK}', session_token: '`+secret+`'}
`), mapEnv(env))
	buf.WriteString(perr.Error())
	out := buf.String()
	for _, s := range []string{akid, secret, token} {
		if strings.Contains(out, s) {
			t.Errorf("%s shown:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "[REDACTED] (${SK})") || !strings.Contains(string(y), "secret_access_key: ${SK}") {
		t.Errorf("redacted forms missing:\n%s", out)
	}
}

// TestMultiRegionAccessPoint: an S3 Multi-Region Access Point host is S3,
// signed with SigV4A over every region, with nothing else written; an
// explicit algorithm or region set still wins.
func TestMultiRegionAccessPoint(t *testing.T) {
	cfg, err := Parse([]byte(`routes:
  - name: mrap
    url: https://mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com
  - name: mrap-us
    match: {path_prefix: /us}
    url: https://mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com
    signing: {region_set: [us-east-1, us-west-2]}
hosts:
  - host: '*.mrap.accesspoint.s3-global.amazonaws.com'
  - host: '*.us-east-1.amazonaws.com'
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		s         Settings
		service   string
		region    string
		algorithm Algorithm
		regionSet []string
	}{
		{"route", cfg.Routes[0].Settings, "s3", "", SigV4A, []string{"*"}},
		{"route with its own region set", cfg.Routes[1].Settings, "s3", "", SigV4A, []string{"us-east-1", "us-west-2"}},
		{"host pattern of access points", cfg.Hosts[0].Settings, "s3", "", SigV4A, []string{"*"}},
		// Left to the proxy, which detects per host.
		{"host pattern of many services", cfg.Hosts[1].Settings, "", "us-east-1", "", nil},
	}
	for _, c := range checks {
		if c.s.Service != c.service || c.s.Region != c.region || c.s.Signing.Algorithm != c.algorithm || !reflect.DeepEqual(c.s.Signing.RegionSet, c.regionSet) {
			t.Errorf("%s: service %q region %q algorithm %q region set %q, want %q %q %q %q",
				c.name, c.s.Service, c.s.Region, c.s.Signing.Algorithm, c.s.Signing.RegionSet, c.service, c.region, c.algorithm, c.regionSet)
		}
	}
	// sigv4 written out wins, and then a region is needed as for any S3 host.
	ps := parseProblems(t, `routes:
  - name: mrap
    url: https://mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com
    signing: {algorithm: sigv4}
`, nil)
	if len(ps) != 1 || ps[0].Field != "routes[0].region" {
		t.Errorf("problems %v, want one for routes[0].region", ps)
	}
}
