package sigv4

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSignedCanonicalMatchesTheSigner(t *testing.T) {
	for _, svc := range []string{"s3", "execute-api"} {
		r, _ := http.NewRequest(http.MethodGet, "https://h.example/a%20b/c?x=1&y", nil)
		r.Header.Set("X-Custom", "  v  ")
		got, err := NewSigner(nil).SignDebug(r, exampleCreds, &Params{Service: svc, Region: "us-east-1", ContentSHA256Header: true}, vectorTime)
		if err != nil {
			t.Fatal(err)
		}
		again, err := SignedCanonical(r)
		if err != nil {
			t.Fatal(err)
		}
		if again.CanonicalRequest != got.CanonicalRequest || again.StringToSign != got.StringToSign || again.Signature != got.Signature {
			t.Fatalf("%s: rebuilt\n%q\nsigned\n%q", svc, again.CanonicalRequest, got.CanonicalRequest)
		}
	}
}

func TestCompareSigned(t *testing.T) {
	r, _ := http.NewRequest(http.MethodPut, "https://b.s3.amazonaws.com/k", nil)
	r.Header.Set("X-Amz-Meta-Owner", "alice")
	ours, err := NewSigner(nil).SignDebug(r, Credentials{AccessKeyID: "AK", SecretAccessKey: "s", SessionToken: "secret-token"},
		&Params{Service: "s3", Region: "us-east-1", ContentSHA256Header: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		theirs func(string) string
		part   string
	}{
		{"same request: the key is wrong", func(c string) string { return c }, "none"},
		{"path", func(c string) string { return strings.Replace(c, "\n/k\n", "\n/k%20\n", 1) }, "path"},
		{"method", func(c string) string { return "POST" + strings.TrimPrefix(c, "PUT") }, "method"},
		{"a header value", func(c string) string { return strings.Replace(c, "x-amz-meta-owner:alice", "x-amz-meta-owner:bob", 1) }, "header x-amz-meta-owner"},
		{"the token is never shown", func(c string) string {
			return strings.Replace(c, "x-amz-security-token:secret-token", "x-amz-security-token:other", 1)
		}, "header x-amz-security-token"},
		{"payload", func(c string) string { return c[:strings.LastIndexByte(c, '\n')+1] + "UNSIGNED-PAYLOAD" }, "payload hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := CompareSigned(ours, tt.theirs(ours.CanonicalRequest), "")
			if m.Part != tt.part {
				t.Fatalf("part %q, want %q: %s", m.Part, tt.part, m)
			}
			if strings.Contains(m.String(), "secret-token") {
				t.Fatalf("the diagnosis shows the session token: %s", m)
			}
		})
	}
	if m := CompareSigned(ours, ours.CanonicalRequest, "AWS4-HMAC-SHA256\nother"); m.Part != "string to sign" {
		t.Errorf("a different string to sign: %s", m)
	}
}

// TestCompareSignedRedactsQuerySecrets: in query signing the session token
// is part of the canonical query; a diagnosis shows where it is and whether
// it differs, never its value.
func TestCompareSignedRedactsQuerySecrets(t *testing.T) {
	const token = "query-secret-token"
	ours := Signed{CanonicalRequest: "GET\n/k\nX-Amz-Date=20260101T000000Z&X-Amz-Security-Token=" + token + "&x=1\nhost:h\n\nhost\nUNSIGNED-PAYLOAD"}
	tests := []struct {
		name, theirsQuery string
		wantDiffers       bool // the redacted token values differ
	}{
		{"another parameter differs", "X-Amz-Date=20260101T000000Z&X-Amz-Security-Token=" + token + "&x=2", false},
		{"only the token differs", "X-Amz-Date=20260101T000000Z&X-Amz-Security-Token=" + token + "-other&x=1", true},
		{"an encoded name", "X-Amz-Date=20260101T000000Z&%58-Amz-Security-Token=" + token + "&x=2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			theirs := strings.Replace(ours.CanonicalRequest, "\nX-Amz-Date=20260101T000000Z&X-Amz-Security-Token="+token+"&x=1\n", "\n"+tt.theirsQuery+"\n", 1)
			m := CompareSigned(ours, theirs, "")
			if m.Part != "query" {
				t.Fatalf("part %q, want query: %s", m.Part, m)
			}
			if strings.Contains(m.String(), token) || strings.Contains(m.String(), "Token=query") {
				t.Fatalf("the diagnosis shows the token: %s", m)
			}
			if !strings.Contains(m.Ours, "X-Amz-Security-Token=<redacted ") {
				t.Errorf("ours %q does not mark the token redacted", m.Ours)
			}
			if differs := m.Ours[strings.Index(m.Ours, "<redacted"):][:18] != m.Theirs[strings.Index(m.Theirs, "<redacted"):][:18]; differs != tt.wantDiffers {
				t.Errorf("fingerprints differ = %v, want %v: %s", differs, tt.wantDiffers, m)
			}
		})
	}
	if got := redactQuery("X-Amz-Signature=abc&Signature=def&a=b"); strings.Contains(got, "abc") || strings.Contains(got, "def") || !strings.HasSuffix(got, "&a=b") {
		t.Errorf("redactQuery kept a signature: %s", got)
	}
}
