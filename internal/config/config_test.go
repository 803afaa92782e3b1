package config

import (
	"errors"
	"strings"
	"testing"
)

func parseProblems(t *testing.T, yml string, env map[string]string) []Problem {
	t.Helper()
	_, err := Parse([]byte(yml), mapEnv(env))
	if err == nil {
		return nil
	}
	var pe *ProblemsError
	if !errors.As(err, &pe) {
		t.Fatalf("want *ProblemsError, got %T %v", err, err)
	}
	return pe.Problems
}

// tenProblems has ten mistakes, each on a known line.
const tenProblems = `listen:
  address: :8080
routes:
  - name: a
    match: {path_prefix: /a}
    url: https://bucket.s3.us-east-1.amazonaws.com
    payload: fast
  - name: a
    match: {path_prefix: /b}
    url: https://user:pw@example.com
    service: s3
    region: us-east-1
  - name: c
    match: {path_prefix: /c}
    url: https://api.internal.example
    service: execute-api
  - name: d
    match: {path_prefix: /d, methods: [get]}
    url: https://x.execute-api.eu-west-1.amazonaws.com
    signing:
      mode: query
      lifetime: 8d
    credentials:
      access_key_id: ${AKID}
      assume_role:
        role_arn: arn:aws:iam::12345:role/x
  - name: e
    match: {path_prefix: /d, methods: [GET]}
    url: https://x.execute-api.eu-west-1.amazonaws.com
    timeouts: {connect: soon}
hosts:
  - host: "*.10.0.0.1"
`

func TestTenProblemsAreAllReported(t *testing.T) {
	ps := parseProblems(t, tenProblems, map[string]string{"AKID": "AKIDEXAMPLE"})
	want := []struct {
		field string
		line  int
		msg   string
	}{
		{"routes[0].payload", 7, `"fast" is not one of auto, unsigned, signed, streaming`},
		{"routes[1].name", 8, `"a" is already the name of routes[0] (line 4)`},
		{"routes[1].url", 10, "must not carry user info"},
		{"routes[2].region", 13, `required when service is "execute-api" and the upstream host "api.internal.example" does not name a region`},
		{"routes[3].signing.lifetime", 22, "8d is out of range: a query signature lives 1s to 7d"},
		{"routes[3].credentials.secret_access_key", 23, "need both access_key_id and secret_access_key"},
		{"routes[3].credentials.assume_role.role_arn", 26, "not a role ARN"},
		{"routes[4].match", 28, `the same match as routes[3] (line 17)`},
		{"routes[4].timeouts.connect", 30, `"soon" is not a duration`},
		{"hosts[0].host", 32, "an IP address cannot be a pattern"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(ps), len(want), (&ProblemsError{ps}).Error())
	}
	for i, w := range want {
		p := ps[i]
		if p.Field != w.field || p.Line != w.line || !strings.Contains(p.Message, w.msg) {
			t.Errorf("problem %d = %s\nwant %s (line %d): ...%s...", i, p, w.field, w.line, w.msg)
		}
	}
	if got := strings.Count((&ProblemsError{ps}).Error(), "\n") + 1; got != len(want) {
		t.Errorf("Error() has %d lines, want one per problem", got)
	}
}
