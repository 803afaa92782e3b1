package signfloor

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// TestFloorsSign checks that both floors send what a
// SigV4 server accepts: a floor that sent no signature, or a wrong one,
// would make signway look slower than signing has to be.
func TestFloorsSign(t *testing.T) {
	got := make(chan error, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := sigv4.Verify(r, sigv4.VerifyOptions{
			Now:     time.Now(),
			Service: "execute-api", Region: "us-east-1",
			RequiredSignedHeaders: []string{"x-amz-content-sha256", "x-amz-date"},
			Lookup: func(id string) (sigv4.Credentials, error) {
				if id != Credentials.AccessKeyID {
					return sigv4.Credentials{}, errors.New("unknown key " + id)
				}
				return Credentials, nil
			},
		})
		if err == nil && v.PayloadHash != sigv4.EmptyPayloadHash {
			err = errors.New("signed payload hash " + v.PayloadHash + ", want the empty body's")
		}
		got <- err
	}))
	defer origin.Close()

	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"signway's signer", NewSignway(http.DefaultTransport, "execute-api", "us-east-1")},
		{"aws-sdk-go-v2's signer", NewSDK(http.DefaultTransport, "execute-api", "us-east-1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := http.NewRequest(http.MethodGet, origin.URL+"/prod/items?limit=10", nil)
			if err != nil {
				t.Fatal(err)
			}
			in.Header.Set("User-Agent", "wrk")
			resp, err := tc.rt.RoundTrip(in)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if err := <-got; err != nil {
				t.Fatalf("the origin could not verify the signature: %v", err)
			}
			if in.Header.Get("Authorization") != "" {
				t.Fatal("the caller's request was signed in place: the transport must sign a clone")
			}
		})
	}
}
