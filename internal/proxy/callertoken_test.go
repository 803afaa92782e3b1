package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signway/signway/internal/sigv4"
)

func TestCallerTokenReachesCredentialsOnly(t *testing.T) {
	b := newBackend(t, "") // the backend's lookup only knows testCreds: check the key used instead
	b.handler = func(w http.ResponseWriter, r *http.Request) {}
	var seen []string
	creds := func(ctx context.Context) (sigv4.Credentials, error) {
		tok := CallerToken(ctx)
		seen = append(seen, tok)
		switch tok {
		case "":
			return sigv4.Credentials{}, &CallerAuthError{Status: 401, Code: "MissingToken", Message: "send a bearer token in X-Id-Token"}
		case "rejected":
			return sigv4.Credentials{}, &CallerAuthError{Status: 403, Code: "InvalidIdentityToken", Message: "STS rejected the token"}
		}
		c := testCreds
		c.AccessKeyID = "AKID-" + strings.ToUpper(tok)
		return c, nil
	}
	for _, header := range []string{"X-Id-Token", "Authorization"} {
		t.Run(header, func(t *testing.T) {
			seen = nil
			spec := RouteSpec{Route: &Route{Name: "wi", Target: mustURL(t, b.URL), Service: "lambda", Region: "us-east-2", Credentials: creds},
				CallerTokenHeader: header}
			tbl, err := NewTable([]RouteSpec{spec}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(NewRouter(tbl, Options{}))
			defer srv.Close()

			before := b.count()
			for _, tt := range []struct {
				token  string
				status int
				code   string
			}{{"", 401, "MissingToken"}, {"rejected", 403, "InvalidIdentityToken"}} {
				req := newRequest(t, "GET", srv.URL+"/", nil)
				if tt.token != "" {
					req.Header.Set(header, "Bearer "+tt.token)
				}
				resp, body := do(t, req)
				if resp.StatusCode != tt.status || resp.Header.Get("X-Signway-Error") != tt.code {
					t.Fatalf("token %q: got %d %s", tt.token, resp.StatusCode, body)
				}
			}
			if b.count() != before {
				t.Fatal("a refused caller's request reached the upstream")
			}
			for _, tok := range []string{"alice", "bob"} {
				req := newRequest(t, "GET", srv.URL+"/", nil)
				req.Header.Set(header, "Bearer "+tok)
				if resp, body := do(t, req); resp.StatusCode != 200 {
					t.Fatalf("%s: %d %s", tok, resp.StatusCode, body)
				}
				got := b.last(t)
				if !strings.Contains(got.header.Get("Authorization"), "Credential=AKID-"+strings.ToUpper(tok)+"/") {
					t.Errorf("%s's request was signed as %q", tok, got.header.Get("Authorization"))
				}
				if header != "Authorization" && got.header.Get(header) != "" {
					t.Errorf("the caller's token header reached the upstream")
				}
				if strings.Contains(got.header.Get("Authorization"), tok) && !strings.Contains(got.header.Get("Authorization"), "AKID-") {
					t.Errorf("the caller's token reached the upstream")
				}
			}
			if strings.Join(seen, ",") != ",rejected,alice,bob" {
				t.Errorf("credentials saw tokens %q", seen)
			}
		})
	}
}
