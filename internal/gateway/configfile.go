package gateway

import (
	"context"
	"fmt"
	"os"

	"github.com/signway/signway/internal/config"
)

// LoadFile builds a gateway from the config file at path; ReloadFile and
// Files then refer to it. Unlike a reload, failing here stops startup.
func LoadFile(ctx context.Context, path string, o Options) (*Gateway, error) {
	cfg, err := loadFile(path, o.Override)
	if err != nil {
		return nil, fmt.Errorf("%s:\n%w", path, err)
	}
	g, err := New(ctx, cfg, o)
	if err != nil {
		return nil, fmt.Errorf("%s:\n%w", path, err)
	}
	g.path, g.override = path, o.Override
	return g, nil
}

func loadFile(path string, override func(*config.Config)) (*config.Config, error) {
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil || override == nil {
		return cfg, err
	}
	override(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg.WithDefaults(), nil
}

// Files are the config file and the secret files it refers to: what a
// Watcher should watch to call ReloadFile.
func (g *Gateway) Files() []string {
	if g.path == "" {
		return nil
	}
	cfg := g.Config()
	if cfg == nil {
		return []string{g.path}
	}
	return append([]string{g.path}, cfg.SecretFiles()...)
}

// ReloadFile applies the config file now (at SIGHUP, or when a Watcher saw
// it or a secret it refers to change) and reports whether it was accepted.
// A config that does not load or build is rejected with the reason logged
// and counted, and the previous one keeps serving.
func (g *Gateway) ReloadFile(ctx context.Context, why string) bool {
	old := g.Config()
	cfg, err := loadFile(g.path, g.override)
	if err == nil {
		err = g.Reload(ctx, cfg)
	}
	if g.metrics != nil {
		g.metrics.ConfigReload(err)
	}
	if err != nil {
		g.log.Error("config reload rejected; still serving the previous config", "trigger", why, "file", g.path, "error", err)
		return false
	}
	if old != nil && (old.Listen != cfg.Listen || old.Utility != cfg.Utility) {
		g.log.Warn("the listen, tls or utility settings changed; they apply at the next restart", "file", g.path)
	}
	g.log.Info("config reloaded", "trigger", why, "file", g.path, "routes", len(cfg.Routes), "hosts", len(cfg.Hosts))
	return true
}
