package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/signway/signway/internal/accesslog"
	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/authz"
	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/connguard"
	"github.com/signway/signway/internal/gateway"
)

// watchEvery is how often the config, secret and certificate files are
// looked at.
const watchEvery = 2 * time.Second

func newLogger(o *options, w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: o.level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// startup builds the gateway from --config, or from the command line as a
// one-route config.
func startup(ctx context.Context, o *options, gopts gateway.Options) (*gateway.Gateway, error) {
	if o.configFile != "" {
		gopts.Override = o.Listeners
		return gateway.LoadFile(ctx, o.configFile, gopts)
	}
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	return gateway.New(ctx, cfg, gopts)
}

func serve(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	log := newLogger(o, stderr)
	restore, tuned := tuneGC(os.LookupEnv)
	defer restore()
	if tuned {
		log.Debug("garbage collector target set (GOGC unset)", "gc_percent", gcPercent)
	}
	if o.NoVerifySSL {
		log.Warn("--no-verify-ssl is set: upstream TLS certificates are NOT verified, so anyone on the network path can read and alter signed traffic; use --ca instead")
	}
	if o.Set["signature-lifetime"] && !o.SignQuery {
		log.Warn("--signature-lifetime only applies with --sign-query; header signatures are valid for AWS's fixed 15-minute window")
	}
	metrics := admin.NewMetrics(version)
	gw, err := startup(ctx, o, gateway.Options{Logger: log, Metrics: metrics})
	if err != nil {
		return err
	}
	defer gw.Close()
	cfg := gw.Config()
	dest := o.accessLog
	if dest == "" {
		dest = cfg.AccessLog
	}
	access, closeLog, err := accesslog.Open(dest, o.logFormat, stdout, stderr)
	if err != nil {
		return &cliflag.UsageError{Err: err}
	}
	defer closeLog()
	handler, stopTracing, err := gateway.Observe(ctx, gw.Handler(), access, version, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	if fp := cfg.ForwardProxy; fp != nil {
		p, err := gw.ForwardProxy(fp, handler)
		if err != nil {
			return err
		}
		defer p.Close() // tunnels are hijacked: the server's shutdown does not end them
		handler = p
	}
	var watcher gateway.Watcher
	tlsConfig, cert, err := gateway.ListenerTLS(cfg.Listen.TLS, log)
	if err != nil {
		return err
	}
	scheme := "http"
	if cert != nil {
		watcher.Add(cert.Files, cert.Reload)
		scheme = "https"
	}
	// HTTP/2 over TLS by ALPN, and cleartext HTTP/2 with prior knowledge.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	// Slow headers and idle connections are closed by the guard rather than
	// by the server's ReadHeaderTimeout and IdleTimeout: the same limits
	// without three read deadlines per request (internal/connguard).
	guard := connguard.New(connguard.Options{Header: 30 * time.Second, Idle: 2 * time.Minute})
	defer guard.Close()
	srv := &http.Server{Handler: handler, ConnState: guard.ConnState, TLSConfig: tlsConfig,
		Protocols: &protocols, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	ready := func() error { return gw.Ready(context.Background()) }
	util := &http.Server{Handler: admin.NewHandler(admin.Options{Metrics: metrics, Ready: ready, Pprof: o.pprof || cfg.Utility.Pprof, Logger: log}),
		ReadHeaderTimeout: 10 * time.Second}

	ln, err := net.Listen("tcp", cfg.Listen.Address)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen.Address, err)
	}
	uln, err := net.Listen("tcp", cfg.Utility.Address)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listening on the utility address %s: %w", cfg.Utility.Address, err)
	}
	side, err := authz.Listen(cfg.Authz.HTTPAddress, cfg.Authz.GRPCAddress, gw, authz.HTTPOptions{EnvoyPathPrefix: cfg.Authz.EnvoyPathPrefix}, log)
	if err != nil {
		ln.Close()
		uln.Close()
		return err
	}
	attrs := []any{"addr", ln.Addr().String(), "scheme", scheme, "utility", uln.Addr().String(), "routes", len(cfg.Routes), "hosts", len(cfg.Hosts), "version", version}
	for _, s := range side {
		attrs = append(attrs, "also", s.Name)
	}
	if cfg.ForwardProxy != nil {
		attrs = append(attrs, "forward_proxy", true)
	}
	if o.configFile != "" {
		attrs = append(attrs, "config", o.configFile)
		watcher.Add(gw.Files, func() { gw.ReloadFile(ctx, "file changed") })
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					gw.ReloadFile(ctx, "SIGHUP")
				}
			}
		}()
	} else {
		r := cfg.Routes[0]
		target, _ := url.Parse(r.URL)
		attrs = append(attrs, "forward_to", target.String(), "service", r.Service, "region", r.Region, "payload", string(r.Payload))
	}
	go watcher.Run(ctx, watchEvery)
	log.Info("signway listening", attrs...)

	errc := make(chan error, 2+len(side))
	var wg sync.WaitGroup
	wg.Add(2 + len(side))
	for _, s := range side {
		go func() {
			defer wg.Done()
			if err := s.Serve(); err != nil {
				errc <- fmt.Errorf("serving %s: %w", s.Name, err)
			}
		}()
	}
	go func() {
		defer wg.Done()
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(guard.Listener(ln), "", "")
		} else {
			err = srv.Serve(guard.Listener(ln))
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serving %s: %w", ln.Addr(), err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := util.Serve(uln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serving the utility port %s: %w", uln.Addr(), err)
		}
	}()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down: no new connections; waiting for in-flight requests", "timeout", o.shutdown.String())
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish before the shutdown timeout; closing them", "error", err)
		srv.Close()
	}
	util.Shutdown(sctx)
	for _, s := range side {
		s.Shutdown(sctx)
	}
	wg.Wait()
	log.Info("stopped")
	return serveErr
}
