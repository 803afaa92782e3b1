package config

import (
	"strings"
	"testing"
)

// FuzzParse: any bytes give a config or problems, never a panic, and a
// config that parses survives WithDefaults and Validate again.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"routes:\n  - name: a\n    url: https://abc.execute-api.eu-west-1.amazonaws.com\n",
		"routes:\n  - name: a\n    url: ${UP:-https://h.example}\n    service: s3\n    region: us-east-1\n    signing: {algorithm: sigv4a, region_set: ['*']}\n",
		"hosts:\n  - host: '*.s3.us-east-1.amazonaws.com'\n    credentials: {source: default}\n",
		"defaults: &d {payload: signed}\nroutes: [{name: a, url: 'http://x', service: es, region: us-east-1, <<: *d}]\n",
		"routes:\n  - name: a\n    credentials:\n      source: static\n      access_key_id: {file: /dev/null}\n",
		"listen: {address: ':8080', tls: {cert_file: a}}\nutility: {address: 9090}\n",
		"routes: [{name: a, url: 'https://h', timeouts: {connect: 7d, response: none}, max_body_size: 5GiB}]",
		"{{{", "routes: [[[", "- - -", "routes:\n  - &a [*a]\n", "$$${${",
	} {
		f.Add([]byte(seed))
	}
	env := func(k string) (string, bool) {
		if strings.HasPrefix(k, "SET") {
			return "value", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, env)
		if err != nil {
			if _, ok := err.(*ProblemsError); !ok {
				t.Fatalf("Parse returned %T, want *ProblemsError: %v", err, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("a config Parse accepted fails Validate: %v", err)
		}
		cfg.WithDefaults()
	})
}
