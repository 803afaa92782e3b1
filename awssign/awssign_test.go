package awssign_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkcreds "github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/signway/signway/awssign"
	"github.com/signway/signway/internal/testenv"
)

// Every payload mode and both signature placements, against versitygw,
// which verifies header, presigned and chunk signatures.
func TestAgainstVersitygw(t *testing.T) {
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "awssign")
	creds := sdkcreds.NewStaticCredentialsProvider(s3.AccessKeyID, s3.SecretAccessKey, "")
	body := bytes.Repeat([]byte("signway awssign "), 80<<10) // 1.25 MiB: several 64 KiB chunks
	for _, tc := range []struct {
		name string
		o    awssign.Options
	}{
		{"auto (streaming chunk signatures)", awssign.Options{}},
		{"signed (hashed)", awssign.Options{Payload: awssign.PayloadSigned}},
		{"unsigned", awssign.Options{Payload: awssign.PayloadUnsigned}},
		{"streaming", awssign.Options{Payload: awssign.PayloadStreaming}},
		{"presigned", awssign.Options{Presign: true, PresignLifetime: time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Service, o.Region, o.Credentials = "s3", s3.Region, creds
			tr, err := awssign.New(o)
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: tr}
			key := s3.Endpoint + "/awssign/" + strings.ReplaceAll(tc.name, " ", "%20") + "%20%2B%3A@.bin"
			req, _ := http.NewRequest(http.MethodPut, key, bytes.NewReader(body))
			resp := do(t, client, req)
			if resp.code != 200 {
				t.Fatalf("PUT: %d %s", resp.code, resp.body)
			}
			resp = do(t, client, mustRequest(t, http.MethodGet, key))
			if resp.code != 200 || !bytes.Equal(resp.body, body) {
				t.Fatalf("GET: %d, %d bytes back of %d", resp.code, len(resp.body), len(body))
			}
		})
	}
}

func TestWrongSecretIsRefused(t *testing.T) {
	s3 := testenv.Versitygw(t)
	tr, err := awssign.New(awssign.Options{Service: "s3", Region: s3.Region,
		Credentials: sdkcreds.NewStaticCredentialsProvider(s3.AccessKeyID, "not-the-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	resp := do(t, &http.Client{Transport: tr}, mustRequest(t, http.MethodGet, s3.Endpoint+"/"))
	if resp.code != http.StatusForbidden || !bytes.Contains(resp.body, []byte("SignatureDoesNotMatch")) {
		t.Fatalf("%d %s: a wrong secret must be refused by the server", resp.code, resp.body)
	}
}

func TestErrors(t *testing.T) {
	var sent atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sent.Add(1) }))
	defer up.Close()
	failing := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials here")
	})
	static := sdkcreds.NewStaticCredentialsProvider("AKID", "SECRET", "")
	for _, tc := range []struct {
		name    string
		o       awssign.Options
		url     string
		body    string
		header  map[string]string
		wantErr string // from New when the request is empty
		wantReq string // from the request
	}{
		{name: "no service", o: awssign.Options{Region: "us-east-1"}, wantErr: "Service and Options.Region are required"},
		{name: "bad payload", o: awssign.Options{Service: "s3", Region: "us-east-1", Payload: "gzip"}, wantErr: `Payload "gzip"`},
		{name: "bad algorithm", o: awssign.Options{Service: "s3", Region: "us-east-1", Algorithm: "sigv5"}, wantErr: `Algorithm "sigv5"`},
		{name: "presign too long", o: awssign.Options{Service: "s3", Region: "us-east-1", Presign: true, PresignLifetime: 8 * 24 * time.Hour}, wantErr: "between 1s and 7 days"},
		{name: "relative URL", o: awssign.Options{Service: "s3", Region: "us-east-1", Credentials: static}, url: "/just/a/path", wantReq: "must be absolute http(s)"},
		{name: "credentials fail", o: awssign.Options{Service: "execute-api", Region: "us-east-1", Credentials: failing}, url: up.URL + "/x", wantReq: "AWS credentials from the given credentials provider unavailable"},
		{name: "body not what its hash says", o: awssign.Options{Service: "execute-api", Region: "us-east-1", Credentials: static, Payload: awssign.PayloadSigned},
			url: up.URL + "/x", body: "hello", header: map[string]string{"X-Amz-Content-Sha256": strings.Repeat("0", 64)}, wantReq: "SHA-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := awssign.New(tc.o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New: %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			before := sent.Load()
			req, _ := http.NewRequest(http.MethodPut, up.URL, strings.NewReader(tc.body))
			req.URL, _ = url.Parse(tc.url) // not resolved against anything: may stay relative
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("status %d, want an error saying %q", resp.StatusCode, tc.wantReq)
			}
			if !strings.Contains(err.Error(), tc.wantReq) {
				t.Errorf("error %q does not say %q", err, tc.wantReq)
			}
			if sent.Load() != before {
				t.Error("a request that could not be signed reached the upstream")
			}
		})
	}
}

type result struct {
	code int
	body []byte
}

func do(t *testing.T, c *http.Client, r *http.Request) result {
	t.Helper()
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, b}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
