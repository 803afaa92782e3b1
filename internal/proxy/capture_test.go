package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// A captured request is signed as the route would sign it and never
// reaches the upstream; what is signed verifies.
func TestCapture(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, service, method, body string
		presign                     time.Duration
		credsLeft                   time.Duration // 0: credentials that do not expire
		wantHash                    string        // x-amz-content-sha256 signed, "" for presigned
		wantLifetime                time.Duration
		wantErr                     string
	}{
		{name: "no body: unsigned payload", service: "s3", method: "PUT", wantHash: sigv4.UnsignedPayload},
		{name: "a forwarded body is hashed", service: "execute-api", method: "POST", body: `{"a":1}`, wantHash: "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"},
		{name: "presign", service: "s3", method: "GET", presign: 5 * time.Minute, wantLifetime: 5 * time.Minute},
		{name: "presign cut to the credentials' life", service: "s3", method: "GET", presign: time.Hour, credsLeft: 10 * time.Minute, wantLifetime: 10 * time.Minute},
		{name: "credentials about to expire", service: "s3", method: "GET", presign: time.Hour, credsLeft: 500 * time.Millisecond, wantErr: "expire in less than a second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.service)
			u, _ := url.Parse(b.URL)
			creds := func(context.Context) (sigv4.Credentials, error) {
				c := testCreds
				if tc.credsLeft > 0 {
					c.Expires = now.Add(tc.credsLeft)
				}
				return c, nil
			}
			p, err := New(Options{Route: &Route{Name: "r", Target: u, Service: tc.service, Region: "us-east-1", Credentials: creds}, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			var body *strings.Reader
			req := httptest.NewRequest(tc.method, "/bucket/a%20b.txt?x=1", nil)
			if tc.body != "" {
				body = strings.NewReader(tc.body)
				req = httptest.NewRequest(tc.method, "/bucket/a%20b.txt?x=1", body)
			}
			c := &Capture{Presign: tc.presign}
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, req.WithContext(WithCapture(req.Context(), c)))
			if b.count() != 0 {
				t.Fatal("a captured request reached the upstream")
			}
			if tc.wantErr != "" {
				if c.Signed() != nil || !strings.Contains(rec.Body.String(), tc.wantErr) {
					t.Fatalf("%d %q, want a refusal saying %q", rec.Code, rec.Body, tc.wantErr)
				}
				return
			}
			out := c.Signed()
			if rec.Code != http.StatusNoContent || out == nil {
				t.Fatalf("%d %q: nothing captured", rec.Code, rec.Body)
			}
			if out.URL.Host != u.Host || out.URL.EscapedPath() != "/bucket/a%20b.txt" {
				t.Errorf("signed %s", out.URL)
			}
			q := out.URL.Query()
			if tc.presign > 0 {
				if got := q.Get("X-Amz-Expires"); got != strconvSeconds(tc.wantLifetime) || !c.Expires().Equal(now.Add(tc.wantLifetime)) {
					t.Errorf("X-Amz-Expires %s, expires %v; want %v", got, c.Expires(), tc.wantLifetime)
				}
				return
			}
			if got := out.Header.Get("X-Amz-Content-Sha256"); got != tc.wantHash {
				t.Errorf("x-amz-content-sha256 %q, want %q", got, tc.wantHash)
			}
			if !strings.Contains(out.Header.Get("Authorization"), "Credential="+testCreds.AccessKeyID+"/20261201/us-east-1/"+tc.service+"/aws4_request") {
				t.Errorf("Authorization %q", out.Header.Get("Authorization"))
			}
			// What a gateway would send with these headers verifies.
			check := httptest.NewRequest(tc.method, out.URL.String(), strings.NewReader(tc.body))
			check.Host = out.URL.Host
			for k, vv := range out.Header {
				check.Header[k] = vv
			}
			if _, err := sigv4.Verify(check, sigv4.VerifyOptions{Now: now, Service: tc.service,
				Lookup: func(string) (sigv4.Credentials, error) { return testCreds, nil }}); err != nil {
				t.Errorf("the captured signature does not verify: %v", err)
			}
		})
	}
}

func strconvSeconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }
