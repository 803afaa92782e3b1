package config

import (
	"strings"
	"testing"
)

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{"HOST": "bucket.s3.eu-west-1.amazonaws.com", "EMPTY": "", "REGION": "eu-west-1"}
	for _, tc := range []struct {
		in, want, problem string
	}{
		{in: "https://${HOST}", want: "https://bucket.s3.eu-west-1.amazonaws.com"},
		{in: "https://${MISSING:-b.s3.us-east-1.amazonaws.com}", want: "https://b.s3.us-east-1.amazonaws.com"},
		{in: "https://${EMPTY:-b.s3.us-east-1.amazonaws.com}", want: "https://b.s3.us-east-1.amazonaws.com"},
		{in: "https://${HOST}/p$$x", want: "https://bucket.s3.eu-west-1.amazonaws.com/p$x"},
		{in: "https://${HOST}/a$b", want: "https://bucket.s3.eu-west-1.amazonaws.com/a$b"},
		{in: "https://${HOST}/$${HOST}", want: "https://bucket.s3.eu-west-1.amazonaws.com/${HOST}"},
		{in: "https://${MISSING}", problem: "routes[0].url (line 3): environment variable MISSING is not set (give a default with ${MISSING:-VALUE})"},
		{in: "https://${HOST", problem: "routes[0].url (line 3): unterminated ${"},
		{in: "https://${1BAD}", problem: `routes[0].url (line 3): ${1BAD}: "1BAD" is not an environment variable name`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			yml := "routes:\n  - name: r\n    url: \"" + tc.in + "\"\n"
			cfg, err := Parse([]byte(yml), mapEnv(env))
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("got %v, want %q", err, tc.problem)
				}
				if n := len(err.(*ProblemsError).Problems); n != 1 {
					t.Errorf("%d problems, want 1 (a field that failed to expand is not also reported as missing): %v", n, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Routes[0].URL; got != tc.want {
				t.Errorf("url = %q, want %q", got, tc.want)
			}
		})
	}
	// Non-string fields expand too, then parse as their type.
	cfg, err := Parse([]byte(`routes:
  - name: r
    override_target_host: localhost
    override_target_port: ${PORT:-8000}
    service: dynamodb
    region: ${REGION}
    max_body_size: ${MAX:-1MiB}
`), mapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Routes[0]; r.OverrideTargetPort != 8000 || r.Region != "eu-west-1" || r.MaxBodySize != 1<<20 {
		t.Errorf("got port %d region %q size %d", r.OverrideTargetPort, r.Region, r.MaxBodySize)
	}
}

func TestUnknownKeysAtEveryDepth(t *testing.T) {
	yml := `listen:
  adress: :8080
routes:
  - name: r
    url: https://b.s3.us-east-1.amazonaws.com
    match:
      pathprefix: /x
    credentials:
      assume_role:
        role_arn: arn:aws:iam::123456789012:role/r
        chain:
          - role_arn: arn:aws:iam::123456789012:role/s
            sesion_name: x
    tls: {}
colour: blue
`
	ps := parseProblems(t, yml, nil)
	want := []string{
		`listen.adress (line 2): unknown key "adress" (did you mean "address"?)`,
		`routes[0].match.pathprefix (line 7): unknown key "pathprefix" (did you mean "path_prefix"?)`,
		`routes[0].credentials.assume_role.chain[0].sesion_name (line 13): unknown key "sesion_name" (did you mean "session_name"?)`,
		`routes[0].tls (line 14): unknown key "tls"`,
		`colour (line 15): unknown key "colour"`,
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(ps), len(want), (&ProblemsError{ps}).Error())
	}
	for i, w := range want {
		if got := ps[i].String(); !strings.HasPrefix(got, w) {
			t.Errorf("got  %s\nwant %s", got, w)
		}
	}
}

func TestDecodingProblems(t *testing.T) {
	for _, tc := range []struct{ name, yml, want string }{
		{"not yaml", "routes: [\n", "line 1: did not find expected node content"},
		{"duplicate key", "routes:\n  - name: r\n    name: s\n", `routes[0].name (line 3): key "name" is already set on line 2`},
		{"wrong shape", "routes:\n  name: r\n", "routes (line 2): expected a list, got a mapping"},
		{"scalar for struct", "listen: 8080\n", `listen (line 1): expected a mapping, got "8080"`},
		{"bad bool", "utility: {pprof: maybe}\n", `utility.pprof (line 1): "maybe" is not true or false`},
		{"bad int", "routes:\n  - {name: r, override_target_host: h.example, override_target_port: eighty}\n", `routes[0].override_target_port (line 2): "eighty" is not a whole number`},
		{"bad size", "defaults: {max_body_size: 5 gallons}\n", `defaults.max_body_size (line 1): "5 gallons" is not a size`},
		{"duration without unit", "defaults: {timeouts: {connect: 30}}\n", `defaults.timeouts.connect (line 1): "30" has no unit: write e.g. 30s`},
		{"two documents", "routes: []\n---\nroutes: []\n", "line 2: a config file holds one YAML document"},
		{"empty file", "", "routes: nothing to serve"},
		{"literal secret", "routes:\n  - name: r\n    url: https://b.s3.us-east-1.amazonaws.com\n    credentials: {access_key_id: AKIDLITERAL, secret_access_key: '${S}'}\n",
			`routes[0].credentials.access_key_id (line 4): must be a reference, "${ENV_VAR}" or {file: PATH}`},
		{"secret variable unset", "routes:\n  - name: r\n    url: https://b.s3.us-east-1.amazonaws.com\n    credentials: {access_key_id: '${A}', secret_access_key: '${NOPE}'}\n",
			"routes[0].credentials.secret_access_key (line 4): environment variable NOPE is not set"},
		{"secret file without path", "routes:\n  - name: r\n    url: https://b.s3.us-east-1.amazonaws.com\n    credentials: {access_key_id: '${A}', secret_access_key: {file: }}\n",
			"routes[0].credentials.secret_access_key.file (line 4): a file reference needs a path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yml), mapEnv(map[string]string{"A": "AKID", "S": "secret"}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "AKIDLITERAL") {
				t.Error("a literal secret was echoed")
			}
		})
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	_, err := Parse([]byte(`x-common: &common
  service: execute-api
  region: eu-west-1
routes:
  - <<: *common
    name: a
    url: https://api.internal.example/a
  - <<: *common
    name: b
    region: eu-central-1
    url: https://api.internal.example/b
    match: {path_prefix: /b}
`), nil)
	// x-common is not a key of the config: extension keys are not allowed,
	// since a typo would hide the same way.
	if err == nil || !strings.Contains(err.Error(), `x-common (line 1): unknown key "x-common"`) {
		t.Fatalf("got %v", err)
	}
	cfg, err := Parse([]byte(`defaults: &d {region: eu-west-1}
routes:
  - <<: *d
    name: a
    service: execute-api
    url: https://api.internal.example/a
  - <<: *d
    name: b
    service: execute-api
    region: eu-central-1
    url: https://api.internal.example/b
    match: {path_prefix: /b}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := cfg.Routes[0].Region, cfg.Routes[1].Region; a != "eu-west-1" || b != "eu-central-1" {
		t.Errorf("regions %q %q: a merge key is overridden by keys written beside it", a, b)
	}
}

func TestParseDurationAndSize(t *testing.T) {
	for in, want := range map[string]string{"15m": "15m0s", "7d": "7d", "1d12h": "1d12h0m0s", "none": "none", "90s": "1m30s"} {
		d, err := ParseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "30", "1w", "d", "7dd"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	for in, want := range map[string]ByteSize{"1024": 1024, "5GiB": 5 << 30, "5Gi": 5 << 30, "5G": 5e9, "10 MB": 10e6, "1.5KiB": 1536, "512kib": 512 << 10} {
		if b, err := ParseByteSize(in); err != nil || b != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "-1", "GiB", "1.1B", "5 parsecs", "99999999999TiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
	if s := ByteSize(5 << 30).String(); s != "5GiB" {
		t.Errorf("String = %s", s)
	}
}
