package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// Certificate is the listener's TLS certificate, replaced without a restart
// (and without dropping connections) when its files change, as cert-manager
// and friends rotate them in place.
type Certificate struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
	log               *slog.Logger
}

// LoadCertificate reads a PEM certificate (chain) and its key.
func LoadCertificate(certFile, keyFile string, log *slog.Logger) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile, log: log}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Certificate) load() error {
	kp, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("loading --cert %s and --key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert.Store(&kp)
	return nil
}

// GetCertificate is for tls.Config.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// Files are what a Watcher should watch.
func (c *Certificate) Files() []string { return []string{c.certFile, c.keyFile} }

// Reload reads the files again; a pair that cannot be loaded (a half-done
// rotation, a bad file) leaves the previous certificate serving.
func (c *Certificate) Reload() {
	if err := c.load(); err != nil {
		c.log.Warn("TLS certificate changed but cannot be loaded; still serving the previous one", "error", err)
		return
	}
	c.log.Info("TLS certificate reloaded", "cert", c.certFile)
}
