package accesslog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/reqinfo"
)

var redactedPath = regexp.MustCompile(`^/b/k%20ey\?partNumber=2&X-Amz-Signature=<redacted [0-9a-f]{8}>&X-Amz-Security-Token=<redacted [0-9a-f]{8}>&api_key=<redacted [0-9a-f]{8}>$`)

// fakeProxy does what the router and signing transport do to the record,
// and echoes the body it read.
func fakeProxy(t *testing.T, sawID *string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*sawID = r.Header.Get(Header)
		reqinfo.From(r.Context()).Route = "s3"
		reqinfo.SetCaller(r.Context(), "ci-job")
		_, end := reqinfo.Begin(r.Context(), reqinfo.Upstream, r.Header)
		end.End(http.StatusCreated, nil)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		w.Header().Set(Header, "upstream-id") // an upstream's own, replaced
		w.WriteHeader(http.StatusCreated)
		w.Write(append(b, b...))
	})
}

func TestHandlerLogsOneLinePerRequest(t *testing.T) {
	tests := []struct {
		name, callerID, wantID string
	}{
		{"caller's id kept", "3f1c9a2e-77b1-4c1e-9d3a-0b6a1c2d3e4f", "3f1c9a2e-77b1-4c1e-9d3a-0b6a1c2d3e4f"},
		{"none: generated", "", "GENERATED"},
		{"line break refused", "abc\ninjected=1", "GENERATED"},
		{"quote refused", `a"b`, "GENERATED"},
		{"too long refused", strings.Repeat("a", 129), "GENERATED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			clock := time.Unix(0, 0)
			var sawID string
			h := Handler(fakeProxy(t, &sawID), Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
				Now:   func() time.Time { clock = clock.Add(1500 * time.Microsecond); return clock },
				NewID: func() string { return "GENERATED" }})
			req := httptest.NewRequest(http.MethodPut, "/b/k%20ey?partNumber=2&X-Amz-Signature=sig-value&X-Amz-Security-Token=tok-value&api_key=key-value", strings.NewReader("12345"))
			if tt.callerID != "" {
				req.Header.Set(Header, tt.callerID)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if sawID != tt.wantID || rec.Header().Get(Header) != tt.wantID || len(rec.Header().Values(Header)) != 1 {
				t.Errorf("id upstream %q, to the caller %v; want %q", sawID, rec.Header().Values(Header), tt.wantID)
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("not one JSON line: %v\n%s", err, buf.String())
			}
			want := map[string]any{
				"msg": "request", "request_id": tt.wantID, "route": "s3", "caller": "ci-job", "method": "PUT",
				"status": 201.0, "upstream_status": 201.0, "bytes_in": 5.0, "bytes_out": 10.0,
				// The clock ticks 1.5ms per reading: start, the upstream's
				// begin and end, and the end of the request.
				"duration_ms": 4.5, "upstream_ttfb_ms": 1.5, "credentials_ms": 0.0, "signing_ms": 0.0,
			}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			if path, _ := line["path"].(string); !redactedPath.MatchString(path) {
				t.Errorf("path %q", path)
			}
			for _, secret := range []string{"sig-value", "tok-value", "key-value"} {
				if strings.Contains(buf.String(), secret) {
					t.Errorf("the line holds %q: %s", secret, buf.String())
				}
			}
		})
	}
}

func TestHandlerWithoutLoggerStillGivesIDs(t *testing.T) {
	var sawID string
	h := Handler(fakeProxy(t, &sawID), Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if len(sawID) != 26 || rec.Header().Get(Header) != sawID {
		t.Fatalf("upstream saw %q, caller got %q", sawID, rec.Header().Get(Header))
	}
}

func TestHandlerCountsNothingWrittenAs200(t *testing.T) {
	var buf bytes.Buffer
	h := Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/x", nil))
	for _, want := range []string{"msg=request", "method=HEAD", "path=/x", "status=200", "upstream_status=0", "bytes_in=0", "bytes_out=0"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("missing %s in %s", want, buf.String())
		}
	}
}

func TestHandlerLogsAProtocolSwitch(t *testing.T) {
	var buf bytes.Buffer
	var hdr http.Header
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What ReverseProxy does for a 101: no WriteHeader, the header map
		// written to the hijacked connection.
		_, end := reqinfo.Begin(r.Context(), reqinfo.Upstream, r.Header)
		end.End(http.StatusSwitchingProtocols, nil)
		hdr = w.Header().Clone()
	}), Options{Logger: slog.New(slog.NewTextHandler(&buf, nil)), NewID: func() string { return "ws-1" }})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/socket", nil))
	if !strings.Contains(buf.String(), "status=101 upstream_status=101") || hdr.Get(Header) != "ws-1" {
		t.Fatalf("header %v, line %s", hdr, buf.String())
	}
}

func TestHandlerKeepsFlushWorking(t *testing.T) {
	flushed := false
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("part"))
		flushed = http.NewResponseController(w).Flush() == nil
	}), Options{})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !flushed {
		t.Fatal("Flush did not reach the underlying writer")
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "access.log")
	os.WriteFile(file, []byte("earlier line\n"), 0o600)
	var stdout, stderr bytes.Buffer
	tests := []struct {
		dest, format string
		wantErr      string
		check        func(t *testing.T)
	}{
		{"off", "json", "", nil},
		{"stdout", "json", "", func(t *testing.T) {
			if !strings.HasPrefix(stdout.String(), `{"time":`) {
				t.Errorf("stdout: %q", stdout.String())
			}
		}},
		{"stderr", "text", "", func(t *testing.T) {
			if !strings.HasPrefix(stderr.String(), "time=") {
				t.Errorf("stderr: %q", stderr.String())
			}
		}},
		{file, "text", "", func(t *testing.T) {
			b, _ := os.ReadFile(file)
			if !strings.HasPrefix(string(b), "earlier line\ntime=") {
				t.Errorf("the file was not appended to: %q", b)
			}
		}},
		{filepath.Join(dir, "missing", "access.log"), "json", "give off, stdout, stderr or a writable file", nil},
		{"stdout", "xml", `access log format "xml": use json or text`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.dest+" "+tt.format, func(t *testing.T) {
			log, closeFn, err := Open(tt.dest, tt.format, &stdout, &stderr)
			defer closeFn()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check == nil {
				if log != nil {
					t.Fatal("off gave a logger")
				}
				return
			}
			log.Info("request", "status", 200)
			tt.check(t)
		})
	}
}

func ExamplePath() {
	r := httptest.NewRequest(http.MethodGet, "/bucket/report.pdf?X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0123abcd&versionId=7", nil)
	fmt.Println(Path(r))
	// Output: /bucket/report.pdf?X-Amz-Credential=<redacted 7a898e50>%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=<redacted 64eab070>&versionId=7
}

// TestNewID: generated IDs look like crypto/rand.Text's (26 base32
// characters, which usableID accepts), never repeat, and every position
// varies, so no bit of the 128 is lost to the encoding.
func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	var perPos [26]map[byte]bool
	for i := range perPos {
		perPos[i] = map[byte]bool{}
	}
	for range 2000 {
		id := NewID()
		if len(id) != 26 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" || !usableID(id) {
			t.Fatalf("NewID() = %q, want 26 characters of base32", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		for i := range len(id) {
			perPos[i][id[i]] = true
		}
	}
	for i, vals := range perPos {
		want := 32
		if i == 25 {
			want = 8 // the last character holds the 3 bits left of 128
		}
		if len(vals) != want {
			t.Errorf("position %d took %d values in 2000 IDs, want %d", i, len(vals), want)
		}
	}
}
