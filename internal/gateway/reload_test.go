package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/testenv"
)

// genConfig is a one-route config whose generation shows in a header the
// upstream echoes back.
func genConfig(upstream string, gen int) string {
	return fmt.Sprintf(`
routes:
  - name: api
    url: %s
    service: execute-api
    region: eu-west-1
    credentials:
      source: static
      access_key_id: ${RELOAD_TEST_KEY}
      secret_access_key: ${RELOAD_TEST_SECRET}
    headers:
      add:
        X-Generation: "%d"
`, upstream, gen)
}

type reloadFixture struct {
	path    string
	gw      *Gateway
	srv     *httptest.Server
	metrics *admin.Metrics
	logs    *testenv.LockedBuffer
}

func newReloadFixture(t *testing.T, first string) *reloadFixture {
	t.Helper()
	t.Setenv("RELOAD_TEST_KEY", "AKIDRELOAD")
	t.Setenv("RELOAD_TEST_SECRET", "reload-secret")
	path := filepath.Join(t.TempDir(), "signway.yaml")
	if err := os.WriteFile(path, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LockedBuffer{}
	metrics := admin.NewMetrics("test")
	gw, err := LoadFile(context.Background(), path, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return &reloadFixture{path: path, gw: gw, srv: srv, metrics: metrics, logs: logs}
}

func (f *reloadFixture) write(t *testing.T, content string) {
	t.Helper()
	tmp := f.path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.path); err != nil { // atomic, as editors and Kubernetes do
		t.Fatal(err)
	}
}

func echoGeneration(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKIDRELOAD/") {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		io.WriteString(w, r.Header.Get("X-Generation"))
	}))
	t.Cleanup(s.Close)
	return s
}

func metricsText(t *testing.T, m *admin.Metrics) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestReloadRejectsInvalidConfigAndKeepsServing(t *testing.T) {
	up := echoGeneration(t)
	f := newReloadFixture(t, genConfig(up.URL, 1))
	if _, body := get(t, http.DefaultClient, f.srv.URL+"/x"); body != "1" {
		t.Fatalf("generation %q, want 1", body)
	}
	f.write(t, "routes:\n  - name: api\n    url: not a url\n    surprise: key\n")
	if f.gw.ReloadFile(context.Background(), "test") {
		t.Fatal("an invalid config was accepted")
	}
	if _, body := get(t, http.DefaultClient, f.srv.URL+"/x"); body != "1" {
		t.Fatalf("after a rejected reload: generation %q, want the old config's 1", body)
	}
	if m := metricsText(t, f.metrics); !strings.Contains(m, `signway_config_last_reload_error{error="`) || !strings.Contains(m, "not a url") {
		t.Errorf("the last reload error is not in /metrics:\n%s", m)
	}
	if !strings.Contains(f.logs.String(), "config reload rejected") || !strings.Contains(f.logs.String(), "surprise") {
		t.Errorf("the rejection and its reason are not logged:\n%s", f.logs.String())
	}
	f.write(t, genConfig(up.URL, 2))
	if !f.gw.ReloadFile(context.Background(), "test") {
		t.Fatalf("a valid config was rejected:\n%s", f.logs.String())
	}
	if _, body := get(t, http.DefaultClient, f.srv.URL+"/x"); body != "2" {
		t.Fatalf("generation %q, want 2", body)
	}
	m := metricsText(t, f.metrics)
	if strings.Contains(m, "signway_config_last_reload_error{") {
		t.Error("the reload error is still reported after a successful reload")
	}
	for _, want := range []string{`signway_config_reloads_total{result="failure"} 1`, `signway_config_reloads_total{result="success"} 1`, "signway_config_last_reload_success 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(f.logs.String(), "reload-secret") {
		t.Fatal("a secret from the config reached the logs")
	}
}

// TestReloadOnSignalAndFileChangeUnderLoad: a reload asked for (cmd/signway
// does at SIGHUP) and one the watcher starts both apply while requests run,
// and none of the requests fails.
func TestReloadOnSignalAndFileChangeUnderLoad(t *testing.T) {
	up := echoGeneration(t)
	f := newReloadFixture(t, genConfig(up.URL, 0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var w Watcher
	w.Add(f.gw.Files, func() { f.gw.ReloadFile(ctx, "file changed") })
	go w.Run(ctx, 10*time.Millisecond)

	var failures, served atomic.Int64
	var lastSeen atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(f.srv.URL + "/x")
				if err != nil {
					failures.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
				}
				var g int64
				fmt.Sscan(string(body), &g)
				lastSeen.Store(g)
				served.Add(1)
			}
		}()
	}
	waitGen := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); lastSeen.Load() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("generation %d never served (last %d)\n%s", want, lastSeen.Load(), f.logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for gen := 1; gen <= 10; gen++ {
		f.write(t, genConfig(up.URL, gen))
		if gen%2 == 0 {
			f.gw.ReloadFile(ctx, "SIGHUP")
		}
		waitGen(int64(gen))
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || served.Load() == 0 {
		t.Fatalf("%d of %d requests failed across 10 reloads", failures.Load(), served.Load())
	}
}

// TestReloadReleasesWhatTheOldConfigUsed: transports and credential caches
// of settings no route uses any more are dropped once the new config serves.
func TestReloadReleasesWhatTheOldConfigUsed(t *testing.T) {
	up := echoGeneration(t)
	f := newReloadFixture(t, genConfig(up.URL, 1))
	sizes := func() (int, int) { return f.gw.transports.len(), f.gw.creds.len() }
	if tr, cr := sizes(); tr != 1 || cr != 1 {
		t.Fatalf("at start: %d transports, %d credential caches, want 1 and 1", tr, cr)
	}
	t.Setenv("RELOAD_TEST_KEY_2", "AKIDRELOAD")
	for i := 2; i <= 6; i++ {
		// Each generation changes the timeout and the credentials block.
		cfg := strings.Replace(genConfig(up.URL, i), "    headers:", fmt.Sprintf("    timeouts: {connect: %ds}\n    headers:", i), 1)
		if i%2 == 0 {
			cfg = strings.Replace(cfg, "${RELOAD_TEST_KEY}", "${RELOAD_TEST_KEY_2}", 1)
		}
		f.write(t, cfg)
		if !f.gw.ReloadFile(context.Background(), "test") {
			t.Fatalf("reload %d rejected:\n%s", i, f.logs.String())
		}
		if _, body := get(t, http.DefaultClient, f.srv.URL+"/x"); body != fmt.Sprint(i) {
			t.Fatalf("generation %q, want %d", body, i)
		}
		if tr, cr := sizes(); tr != 1 || cr != 1 {
			t.Fatalf("after reload %d: %d transports, %d credential caches, want 1 and 1", i, tr, cr)
		}
	}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReloadKeepsWhatUnchangedRoutesUse: a reload that changes only a
// header keeps the route's transport (and its idle connections) and its
// credential cache (no new STS calls).
func TestReloadKeepsWhatUnchangedRoutesUse(t *testing.T) {
	up := echoGeneration(t)
	f := newReloadFixture(t, genConfig(up.URL, 1))
	held := func() (map[proxy.TransportOptions]*http.Transport, []*routeCreds) {
		f.gw.transports.mu.Lock()
		defer f.gw.transports.mu.Unlock()
		ts := map[proxy.TransportOptions]*http.Transport{}
		for k, it := range f.gw.transports.items {
			ts[k] = it.v
		}
		return ts, f.gw.gen.Load().creds
	}
	ts1, cr1 := held()
	f.write(t, genConfig(up.URL, 2))
	if !f.gw.ReloadFile(context.Background(), "test") {
		t.Fatalf("reload rejected:\n%s", f.logs.String())
	}
	ts2, cr2 := held()
	if len(ts1) != 1 || len(ts2) != 1 || len(cr1) != 1 || len(cr2) != 1 {
		t.Fatalf("held %d/%d transports and %d/%d credentials, want one of each", len(ts1), len(ts2), len(cr1), len(cr2))
	}
	for k, tr := range ts1 {
		if ts2[k] != tr {
			t.Error("the transport was rebuilt though its settings did not change")
		}
	}
	if cr1[0] != cr2[0] {
		t.Error("the credential cache was rebuilt though the credentials block did not change")
	}
}
