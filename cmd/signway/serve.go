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
	"sync"
	"time"

	"github.com/signway/signway/internal/admin"
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

// buildCredentials is the AWS default chain, optionally assuming a role with it.
func buildCredentials(ctx context.Context, o *options, region string, log *slog.Logger) (*credentials.Cache, error) {
	p, err := credentials.DefaultChain(ctx, credentials.ChainOptions{Region: region})
	if err != nil {
		return nil, fmt.Errorf("setting up the AWS credential chain: %w", err)
	}
	source := "the AWS default credential chain"
	if o.assumeRole != "" {
		base := credentials.NewCache(p, credentials.CacheOptions{Logger: log, SourceName: source})
		if p, err = credentials.AssumeRole(base, credentials.AssumeRoleOptions{RoleARN: o.assumeRole, Region: region}); err != nil {
			return nil, err
		}
		source = "assume role " + o.assumeRole
	}
	return credentials.NewCache(p, credentials.CacheOptions{Logger: log, SourceName: source}), nil
}

func serve(ctx context.Context, o *options, stderr io.Writer) error {
	log := newLogger(o, stderr)
	service, region, err := proxy.ResolveSigning(o.target.Host, o.service, o.region, envRegion())
	if err != nil {
		return &usageError{err}
	}
	if o.noVerifySSL {
		log.Warn("--no-verify-ssl is set: upstream TLS certificates are NOT verified, so anyone on the network path can read and alter signed traffic; use --ca instead")
	}
	if o.signatureLifetime != 0 && !o.signQuery {
		log.Warn("--signature-lifetime only applies with --sign-query; header signatures are valid for AWS's fixed 15-minute window")
	}
	creds, err := buildCredentials(ctx, o, region, log)
	if err != nil {
		return err
	}
	connect, request := o.timeouts()
	transport, err := proxy.NewTransport(proxy.TransportOptions{ConnectTimeout: connect, ResponseTimeout: request,
		CAFile: o.caFile, InsecureSkipVerify: o.noVerifySSL})
	if err != nil {
		return err
	}
	metrics := admin.NewMetrics(version)
	opts := proxy.Options{Transport: transport, Logger: log, Metrics: metrics}
	// The command line is a one-route table: the same router serves it and
	// a config file.
	table, err := proxy.NewTable([]proxy.RouteSpec{{Route: &proxy.Route{Name: "default", Target: o.target, Service: service, Region: region,
		Credentials: signingCredentials(creds), Payload: o.mode, SignQuery: o.signQuery,
		Lifetime: time.Duration(o.signatureLifetime) * time.Second, MaxBodyBytes: o.maxBody}}}, opts)
	if err != nil {
		return err
	}
	p := proxy.NewRouter(table, opts)
	ready := func() error {
		if creds.Ready() {
			return nil
		}
		_, err := creds.Retrieve(context.Background())
		if err != nil {
			return err
		}
		return nil
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	util := &http.Server{Handler: admin.NewHandler(admin.Options{Metrics: metrics, Ready: ready, Pprof: o.pprof, Logger: log}),
		ReadHeaderTimeout: 10 * time.Second}

	ln, err := net.Listen("tcp", o.listenOn)
	if err != nil {
		return fmt.Errorf("--listen-on %s: %w", o.listenOn, err)
	}
	uln, err := net.Listen("tcp", o.utilityPort)
	if err != nil {
		ln.Close()
		return fmt.Errorf("--utility-port %s: %w", o.utilityPort, err)
	}
	scheme := "http"
	if o.certFile != "" {
		certs, err := newCertReloader(o.certFile, o.keyFile, log)
		if err != nil {
			ln.Close()
			uln.Close()
			return err
		}
		go certs.watch(ctx, 2*time.Second)
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
		scheme = "https"
	}
	log.Info("signway listening", "addr", ln.Addr().String(), "scheme", scheme, "utility", uln.Addr().String(),
		"forward_to", o.target.String(), "service", service, "region", region, "payload", string(o.mode), "version", version)

	// Fetch credentials now so the first request doesn't wait and /readyz
	// turns green as soon as possible.
	go func() {
		if _, err := creds.Retrieve(ctx); err != nil {
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
	transport.CloseIdleConnections()
	log.Info("stopped")
	return serveErr
}
