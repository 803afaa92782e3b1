package config

import (
	"strings"
	"testing"
)

// The limits the patterns used to state as counted repetitions hold at
// their edges.
func TestBoundedPatterns(t *testing.T) {
	arn := func(role string) string { return "arn:aws:iam::123456789012:role/" + role }
	for _, tc := range []struct {
		name string
		m    matcher
		in   string
		want bool
	}{
		{"role ARN, 512-character role", roleARN, arn(strings.Repeat("r", 512)), true},
		{"role ARN, 513-character role", roleARN, arn(strings.Repeat("r", 513)), false},
		{"role ARN, empty role", roleARN, arn(""), false},
		{"role ARN, path", roleARN, arn("team/app-role"), true},
		{"role ARN, bad character", roleARN, arn("a b"), false},
		{"role ARN, China partition", roleARN, "arn:aws-cn:iam::123456789012:role/r", true},
		{"caller ID, 128", callerIDPattern, "a" + strings.Repeat("b", 127), true},
		{"caller ID, 129", callerIDPattern, "a" + strings.Repeat("b", 128), false},
		{"caller ID, leading dot", callerIDPattern, ".a", false},
		{"access key ID, 16", accessKeyIDRe, strings.Repeat("A", 16), true},
		{"access key ID, 15", accessKeyIDRe, strings.Repeat("A", 15), false},
		{"access key ID, 129", accessKeyIDRe, strings.Repeat("A", 129), false},
		{"access key ID, lower case", accessKeyIDRe, strings.Repeat("a", 20), false},
		{"SHA-256, 64 hex", sha256Hex, strings.Repeat("aB", 32), true},
		{"SHA-256, 63 hex", sha256Hex, strings.Repeat("a", 63), false},
		{"role name, 64", roleName, strings.Repeat("r", 64), true},
		{"role name, 65", roleName, strings.Repeat("r", 65), false},
		{"session name, 1", sessionName, "s", false},
		{"session name, 2", sessionName, "s1", true},
		{"tag key, 128 characters of two bytes", tagKey, strings.Repeat("é", 128), true},
		{"tag key, 129 characters", tagKey, strings.Repeat("é", 129), false},
		{"tag key, empty", tagKey, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.MatchString(tc.in); got != tc.want {
				t.Errorf("MatchString(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
