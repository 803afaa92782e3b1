package main

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/proxy"
)

// configReloader applies a config file to a running router: at start, on
// SIGHUP and when the file's content changes. A new config is validated and
// built completely before anything changes; an invalid one is rejected with
// the reason logged and counted, and the old one keeps serving. Requests in
// flight finish on the routes they started with; listeners and connections
// are not touched.
type configReloader struct {
	path    string
	gw      *gateway
	router  *proxy.Router
	log     *slog.Logger
	metrics *admin.Metrics

	current atomic.Pointer[config.Config]
	ready   atomic.Pointer[func() error]
	digest  [32]byte
}

// load builds the first table; unlike a reload, failing here stops startup.
func loadConfig(ctx context.Context, path string, gw *gateway) (*config.Config, *proxy.Table, func() error, error) {
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		return nil, nil, nil, err
	}
	tbl, ready, err := gw.table(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, tbl, ready, nil
}

func fileDigest(path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(b)
}

// reload applies the file now and reports whether it was accepted.
func (c *configReloader) reload(ctx context.Context, why string) bool {
	c.digest = fileDigest(c.path)
	cfg, tbl, ready, err := loadConfig(ctx, c.path, c.gw)
	c.metrics.ConfigReload(err)
	if err != nil {
		c.log.Error("config reload rejected; still serving the previous config", "trigger", why, "file", c.path, "error", err)
		return false
	}
	if old := c.current.Load(); old != nil && (old.Listen != cfg.Listen || old.Utility != cfg.Utility) {
		c.log.Warn("the listen, tls or utility settings changed; they apply at the next restart", "file", c.path)
	}
	c.router.Load(tbl)
	c.gw.prune()
	c.current.Store(cfg)
	c.ready.Store(&ready)
	c.log.Info("config reloaded", "trigger", why, "file", c.path, "routes", len(cfg.Routes), "hosts", len(cfg.Hosts))
	return true
}

// readiness reports the current generation's readiness.
func (c *configReloader) readiness() error {
	if f := c.ready.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// watch reloads on every signal from hup and when the file's content
// changes; polling the content (not inotify) follows the symlink swaps with
// which Kubernetes updates mounted ConfigMaps.
func (c *configReloader) watch(ctx context.Context, hup <-chan os.Signal, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			c.reload(ctx, "SIGHUP")
		case <-t.C:
			if d := fileDigest(c.path); d != c.digest && d != ([32]byte{}) {
				c.reload(ctx, "file changed")
			}
		}
	}
}
