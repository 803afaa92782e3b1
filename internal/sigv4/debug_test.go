package sigv4

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDebugShowsTheSigningWithoutSecrets(t *testing.T) {
	creds := Credentials{AccessKeyID: "AKIDDEBUGEXAMPLE", SecretAccessKey: "debug-secret-key-value", SessionToken: "debug-session-token"}
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	newReq := func(body string) *http.Request {
		r, _ := http.NewRequest(http.MethodPut, "https://b.s3.us-east-1.amazonaws.com/k%20ey?partNumber=1&api_key=query-api-key", strings.NewReader(body))
		r.Header.Set("X-Amz-Meta-Owner", "alice")
		r.Header.Set("Cookie", "session=cookie-secret")
		r.Header.Set("X-Api-Key", "header-api-key")
		r.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		r.Header.Set("Tracestate", "vendor=x")
		r.Header.Set("X-Request-Id", "req-1")
		return r
	}
	s := NewSigner(nil)
	tests := []struct {
		name      string
		algorithm string
		sign      func(r *http.Request, p *Params) error
	}{
		{"header", "AWS4-HMAC-SHA256", func(r *http.Request, p *Params) error { return s.Sign(r, creds, p, now) }},
		{"query", "AWS4-HMAC-SHA256", func(r *http.Request, p *Params) error { return s.Presign(r, creds, p, now, time.Hour) }},
		{"sigv4a header", "AWS4-ECDSA-P256-SHA256", func(r *http.Request, p *Params) error {
			p.Algorithm, p.RegionSet = SigV4A, []string{"us-*"}
			return s.Sign(r, creds, p, now)
		}},
		{"sigv4a query", "AWS4-ECDSA-P256-SHA256", func(r *http.Request, p *Params) error {
			p.Algorithm, p.RegionSet = SigV4A, []string{"us-*"}
			return s.Presign(r, creds, p, now, time.Hour)
		}},
		{"streaming", "AWS4-HMAC-SHA256", func(r *http.Request, p *Params) error {
			cs, err := s.SignStreaming(r, creds, p, StreamingOptions{DecodedLength: 5}, now)
			if err == nil {
				_, err = io.Copy(io.Discard, cs.Body(strings.NewReader("hello")))
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Debug
			p := &Params{Service: "s3", Region: "us-east-1", ContentSHA256Header: true, PayloadHash: UnsignedPayload,
				Debug: func(d Debug) { got = append(got, d) }}
			r := newReq("hello")
			if err := tt.sign(r, p); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("Debug called %d times, want once", len(got))
			}
			d := got[0]
			if d.Algorithm != tt.algorithm {
				t.Errorf("algorithm %q, want %q", d.Algorithm, tt.algorithm)
			}
			if !strings.HasPrefix(d.CanonicalRequest, "PUT\n/k%20ey\n") || !strings.HasPrefix(d.StringToSign, tt.algorithm+"\n20260304T050607Z\n") {
				t.Errorf("canonical request or string to sign is not this request's:\n%s\n---\n%s", d.CanonicalRequest, d.StringToSign)
			}
			for _, h := range []string{"host", "x-amz-meta-owner", "cookie", "x-api-key"} {
				if !slices.Contains(d.SignedHeaders, h) {
					t.Errorf("signed headers %v lack %s", d.SignedHeaders, h)
				}
			}
			for _, h := range []string{"traceparent", "tracestate", "x-request-id", "authorization"} {
				if slices.Contains(d.SignedHeaders, h) || strings.Contains(d.CanonicalRequest, "\n"+h+":") {
					t.Errorf("%s must never be signed: %v", h, d.SignedHeaders)
				}
			}
			sig := signatureOf(r)
			if sig == "" {
				t.Fatal("no signature on the request")
			}
			all := d.Algorithm + d.CanonicalRequest + d.StringToSign + strings.Join(d.SignedHeaders, ";")
			for _, secret := range []string{creds.SecretAccessKey, creds.SessionToken, creds.AccessKeyID, sig, "cookie-secret", "header-api-key", "query-api-key"} {
				if strings.Contains(all, secret) {
					t.Errorf("debug output holds %q:\n%s", secret, all)
				}
			}
		})
	}
}

// signatureOf finds the signature wherever r carries it.
func signatureOf(r *http.Request) string {
	if s := r.URL.Query().Get("X-Amz-Signature"); s != "" {
		return s
	}
	_, sig, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
	return sig
}

func TestDebugIsTheSignedCanonicalRequestRedacted(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "https://h.example/a?b=1", nil)
	var d Debug
	p := &Params{Service: "execute-api", Region: "eu-west-1", Debug: func(x Debug) { d = x }}
	signed, err := NewSigner(nil).SignDebug(r, Credentials{AccessKeyID: "AK", SecretAccessKey: "s"}, p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// No secret in this request: the debug view is the canonical request itself.
	if d.CanonicalRequest != signed.CanonicalRequest || d.StringToSign != signed.StringToSign {
		t.Fatalf("debug\n%s\nsigned\n%s", d.CanonicalRequest, signed.CanonicalRequest)
	}
}

func TestRedactQuery(t *testing.T) {
	fp := func(v string) string { return redacted(v) }
	tests := []struct{ in, want string }{
		{"", ""},
		{"a=1&b=2", "a=1&b=2"},
		{"X-Amz-Signature=abc&x=1", "X-Amz-Signature=" + fp("abc") + "&x=1"},
		{"X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request", "X-Amz-Credential=" + fp("AKID") + "%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"},
		{"X-Amz-Credential=AKID/20260101/us-east-1/s3/aws4_request", "X-Amz-Credential=" + fp("AKID") + "/20260101/us-east-1/s3/aws4_request"},
		{"x-amz-security-token=tok&API_KEY=k&token=&flag", "x-amz-security-token=" + fp("tok") + "&API_KEY=" + fp("k") + "&token=&flag"},
		{"access_token=t&prefix=logs&key=g", "access_token=" + fp("t") + "&prefix=logs&key=" + fp("g")},
	}
	for _, tt := range tests {
		if got := RedactQuery(tt.in); got != tt.want {
			t.Errorf("RedactQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzRedactQuery(f *testing.F) {
	f.Add("abc")
	f.Add("zzz%2Fy")
	f.Fuzz(func(t *testing.T, secret string) {
		if secret == "" || strings.ContainsAny(secret, "&=/") || strings.Contains(secret, "%2F") {
			return // not one value of one parameter
		}
		for k := range secretParams {
			q := "a=1&" + k + "=" + secret + "&b=2"
			if got := RedactQuery(q); got != "a=1&"+k+"="+redacted(secret)+"&b=2" {
				t.Fatalf("RedactQuery(%q) = %q keeps the secret", q, got)
			}
		}
	})
}
