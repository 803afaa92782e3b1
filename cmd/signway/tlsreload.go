package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// certReloader serves the certificate in --cert/--key and picks up a new one
// when the files change (cert-manager and friends rotate them in place),
// without a restart and without dropping connections.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
	stamp             string
	log               *slog.Logger
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) fileStamp() string {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return s
}

func (r *certReloader) load() error {
	stamp := r.fileStamp()
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("loading --cert %s and --key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&c)
	r.stamp = stamp
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.cert.Load(), nil }

// watch polls the files: cheap, and unlike inotify it follows the symlink
// swaps Kubernetes uses for mounted secrets.
func (r *certReloader) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if r.fileStamp() == r.stamp {
				continue
			}
			if err := r.load(); err != nil {
				r.log.Warn("TLS certificate changed but cannot be loaded; still serving the previous one", "error", err)
				continue
			}
			r.log.Info("TLS certificate reloaded", "cert", r.certFile)
		}
	}
}
