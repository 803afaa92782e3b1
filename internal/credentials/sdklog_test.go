package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	swconfig "github.com/signway/signway/internal/config"
)

// TestSDKLogsThroughSlog: issue 12 item 8. With an IMDS that refuses the
// IMDSv2 token call, the SDK printed "SDK 2026/12/01 ... WARN falling back to
// IMDSv1" as plain text on stderr, so --log-format json was not JSON on every
// line. It must reach the injected logger instead, and nothing the SDK says
// may go to stderr.
func TestSDKLogsThroughSlog(t *testing.T) {
	isolateEnv(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	const role = "v1-only-role"
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "IMDSv2 off", http.StatusForbidden)
	})
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, role)
	})
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/"+role, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, credsJSON("ASIAIMDSV10000000001"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)

	stderr := captureStderr(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := FromSource(context.Background(), SourceSpec{Source: swconfig.SourceIMDS, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewCache(p, CacheOptions{Logger: log}).Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != "ASIAIMDSV10000000001" {
		t.Fatalf("got %v from IMDSv1", got)
	}
	if out := stderr(); out != "" {
		t.Errorf("the SDK wrote to stderr:\n%s", out)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if strings.Contains(fmt.Sprint(rec["msg"]), "falling back to IMDSv1") {
			found = rec["level"] == "WARN" && rec["component"] == "aws-sdk"
		}
	}
	if !found {
		t.Errorf("no WARN record of the IMDSv1 fallback from the aws-sdk component:\n%s", logs.String())
	}
	assertNoLeak(t, "the log", logs.String())
}

// captureStderr redirects os.Stderr until the returned function is called,
// which returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	restored := false
	restore := func() string {
		if restored {
			return ""
		}
		restored = true
		os.Stderr = old
		w.Close()
		return <-done
	}
	t.Cleanup(func() { restore() })
	return restore
}

// TestCredentialProcessStderrStaysOut: the SDK copies a credential_process's
// stderr to signway's, where it breaks JSON logs and may show a secret; every
// way of reaching a credential_process (the process source, a profile, the
// default chain) runs it with stderr discarded.
func TestCredentialProcessStderrStaysOut(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec SourceSpec
	}{
		{"process source", SourceSpec{Source: swconfig.SourceProcess, Profile: "proc"}},
		{"profile source", SourceSpec{Source: swconfig.SourceProfile, Profile: "proc"}},
		{"default chain", SourceSpec{Profile: "proc"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolateEnv(t)
			processProfile(t, dir, "echo 'stderr chatter "+leakSecret+"' >&2\necho '{\"Version\":1,\"AccessKeyId\":\"ASIAPROCESSQUIET0001\",\"SecretAccessKey\":\"quiet-secret\"}'\n")
			stderr := captureStderr(t)
			p, err := FromSource(context.Background(), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Retrieve(context.Background())
			out := stderr()
			if err != nil || got.AccessKeyID != "ASIAPROCESSQUIET0001" {
				t.Fatalf("Retrieve = %v, %v", got, err)
			}
			if out != "" {
				t.Errorf("the credential_process's stderr reached signway's:\n%s", out)
			}
		})
	}
}
