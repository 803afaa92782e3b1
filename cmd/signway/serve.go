package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/credentials"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

func newLogger(o *options, w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: o.level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

func envRegion() string {
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return os.Getenv("AWS_DEFAULT_REGION")
}

// signingCredentials adapts a credentials cache to what the proxy calls per
// request.
func signingCredentials(c *credentials.Cache) proxy.CredentialsFunc {
	return func(ctx context.Context) (sigv4.Credentials, error) {
		cr, err := c.Retrieve(ctx)
		if err != nil {
			return sigv4.Credentials{}, err
		}
		return sigv4.Credentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken}, nil
	}
}

// listeners are what a config cannot change at reload.
type listeners struct {
	listen, utility   string
	certFile, keyFile string
	clientCAFile      string // mTLS callers: asked for a certificate from these CAs
	pprof             bool
}

// startup loads the routes (from --config, or the command line as a
// one-route config) and says where to listen.
func startup(ctx context.Context, o *options, gw *gateway, log *slog.Logger, metrics *admin.Metrics) (*configReloader, listeners, error) {
	r := &configReloader{path: o.configFile, gw: gw, log: log, metrics: metrics}
	var cfg *config.Config
	var tbl *proxy.Table
	var ready func() error
	var err error
	if o.configFile != "" {
		cfg, tbl, ready, err = loadConfig(ctx, o.configFile, gw)
		if err != nil {
			return nil, listeners{}, fmt.Errorf("%s:\n%w", o.configFile, err)
		}
		r.digest = fileDigest(o.configFile)
	} else {
		if cfg, err = o.asConfig(); err != nil {
			return nil, listeners{}, err
		}
		if tbl, ready, err = gw.table(ctx, cfg); err != nil {
			return nil, listeners{}, err
		}
		cfg.Listen.Address, cfg.Utility.Address = o.listenOn, o.utilityPort
		cfg.Listen.TLS = config.ListenTLS{CertFile: o.certFile, KeyFile: o.keyFile}
	}
	r.router = proxy.NewRouter(tbl, proxy.Options{Logger: log, Metrics: metrics})
	gw.prune()
	r.current.Store(cfg)
	r.ready.Store(&ready)
	return r, listeners{listen: cfg.Listen.Address, utility: cfg.Utility.Address,
		certFile: cfg.Listen.TLS.CertFile, keyFile: cfg.Listen.TLS.KeyFile, clientCAFile: cfg.Listen.TLS.ClientCAFile, pprof: o.pprof || cfg.Utility.Pprof}, nil
}

// asConfig turns the command line into a one-route config, so flags and
// files take one path through validation and routing.
func (o *options) asConfig() (*config.Config, error) {
	service, region, err := resolveSigning(o.target.Host, o.service, o.region, envRegion())
	if err != nil {
		return nil, &usageError{err}
	}
	connect, request := o.timeouts()
	response := config.Duration(request)
	if request == 0 {
		response = config.NoTimeout
	}
	bodyIdle := config.Duration(time.Duration(o.bodyIdleTimeout) * time.Second)
	if o.bodyIdleTimeout == 0 {
		bodyIdle = config.NoTimeout
	}
	s := config.Settings{Service: service, Region: region, Payload: config.PayloadMode(o.mode),
		Signing: config.Signing{Algorithm: config.Algorithm(o.signingAlgorithm), RegionSet: o.regions, Mode: config.SignHeader,
			Lifetime: config.Duration(time.Duration(o.signatureLifetime) * time.Second)},
		Timeouts:    config.Timeouts{Connect: config.Duration(connect), Response: response, BodyIdle: bodyIdle},
		MaxBodySize: config.ByteSize(o.maxBody),
		UpstreamTLS: config.UpstreamTLS{CAFile: o.caFile, InsecureSkipVerify: o.noVerifySSL},
		Credentials: config.Credentials{Source: config.SourceDefault}}
	if o.signQuery {
		s.Signing.Mode = config.SignQuery
	}
	s.Debug = o.debugSigning
	if o.assumeRole != "" {
		s.Credentials.AssumeRole = &config.AssumeRole{RoleARN: o.assumeRole}
	}
	cfg := &config.Config{Routes: []config.Route{{Name: "default", URL: o.target.String(), Settings: s}}}
	if err := cfg.Validate(); err != nil {
		return nil, &usageError{err}
	}
	return cfg.WithDefaults(), nil
}

func serve(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	log := newLogger(o, stderr)
	if o.noVerifySSL {
		log.Warn("--no-verify-ssl is set: upstream TLS certificates are NOT verified, so anyone on the network path can read and alter signed traffic; use --ca instead")
	}
	if o.signatureLifetime != 0 && !o.signQuery {
		log.Warn("--signature-lifetime only applies with --sign-query; header signatures are valid for AWS's fixed 15-minute window")
	}
	metrics := admin.NewMetrics(version)
	gw := newGateway(log, metrics)
	reloader, ls, err := startup(ctx, o, gw, log, metrics)
	if err != nil {
		return err
	}
	handler, stopObserving, err := observe(ctx, reloader.router, o, reloader.current.Load(), stdout, stderr, log)
	if err != nil {
		return err
	}
	defer stopObserving()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	util := &http.Server{Handler: admin.NewHandler(admin.Options{Metrics: metrics, Ready: reloader.readiness, Pprof: ls.pprof, Logger: log}),
		ReadHeaderTimeout: 10 * time.Second}

	ln, err := net.Listen("tcp", ls.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", ls.listen, err)
	}
	uln, err := net.Listen("tcp", ls.utility)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listening on the utility address %s: %w", ls.utility, err)
	}
	scheme := "http"
	if ls.certFile != "" {
		certs, err := newCertReloader(ls.certFile, ls.keyFile, log)
		if err != nil {
			ln.Close()
			uln.Close()
			return err
		}
		go certs.watch(ctx, 2*time.Second)
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
		if err := askClientCertificates(srv.TLSConfig, ls.clientCAFile); err != nil {
			ln.Close()
			uln.Close()
			return err
		}
		scheme = "https"
	}
	cfg := reloader.current.Load()
	attrs := []any{"addr", ln.Addr().String(), "scheme", scheme, "utility", uln.Addr().String(), "routes", len(cfg.Routes), "hosts", len(cfg.Hosts), "version", version}
	if o.configFile != "" {
		attrs = append(attrs, "config", o.configFile)
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go reloader.watch(ctx, hup, 2*time.Second)
	} else {
		r := cfg.Routes[0]
		attrs = append(attrs, "forward_to", o.target.String(), "service", r.Service, "region", r.Region, "payload", string(r.Payload))
	}
	log.Info("signway listening", attrs...)

	// Fetch credentials now so the first request doesn't wait and /readyz
	// turns green as soon as possible.
	go func() {
		if err := reloader.readiness(); err != nil {
			log.Warn("no AWS credentials yet; requests get 503 until they can be obtained", "error", err)
		}
	}()

	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
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
	log.Info("shutting down: no new connections; waiting for in-flight requests", "timeout", fmt.Sprint(time.Duration(o.shutdownTimeout)*time.Second))
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.shutdownTimeout)*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish before the shutdown timeout; closing them", "error", err)
		srv.Close()
	}
	util.Shutdown(sctx)
	wg.Wait()
	gw.closeIdle()
	log.Info("stopped")
	return serveErr
}
