package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/signway/signway/internal/authz"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/gateway"
)

// sideServer is a listener besides the main and utility ones: the authz
// HTTP check endpoint and the ext_authz gRPC service.
type sideServer struct {
	name     string
	ln       net.Listener
	serve    func(net.Listener) error
	shutdown func(context.Context)
}

// authzServers opens the authz listeners the config asks for; on error
// nothing stays open.
func authzServers(a config.Authz, gw *gateway.Gateway, log *slog.Logger) ([]sideServer, error) {
	var out []sideServer
	fail := func(err error) ([]sideServer, error) {
		for _, s := range out {
			s.ln.Close()
		}
		return nil, err
	}
	if a.HTTPAddress != "" {
		ln, err := net.Listen("tcp", a.HTTPAddress)
		if err != nil {
			return fail(fmt.Errorf("listening on authz.http_address %s: %w", a.HTTPAddress, err))
		}
		srv := &http.Server{Handler: authz.NewHTTPHandler(gw, authz.HTTPOptions{EnvoyPathPrefix: a.EnvoyPathPrefix}),
			ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		out = append(out, sideServer{name: "authz HTTP " + ln.Addr().String(), ln: ln,
			serve: func(l net.Listener) error {
				if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			},
			shutdown: func(ctx context.Context) {
				if srv.Shutdown(ctx) != nil {
					srv.Close()
				}
			}})
	}
	if a.GRPCAddress != "" {
		ln, err := net.Listen("tcp", a.GRPCAddress)
		if err != nil {
			return fail(fmt.Errorf("listening on authz.grpc_address %s: %w", a.GRPCAddress, err))
		}
		gs := authz.NewGRPCServer(gw)
		out = append(out, sideServer{name: "authz gRPC " + ln.Addr().String(), ln: ln, serve: gs.Serve,
			shutdown: func(ctx context.Context) {
				done := make(chan struct{})
				go func() { gs.GracefulStop(); close(done) }()
				select {
				case <-done:
				case <-ctx.Done():
					gs.Stop()
				}
			}})
	}
	return out, nil
}
