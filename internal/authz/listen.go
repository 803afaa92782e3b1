package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is an open authz listener: the HTTP check endpoint or the
// ext_authz gRPC service.
type Server struct {
	Name     string // what it is and its address, for the logs
	ln       net.Listener
	serve    func(net.Listener) error
	shutdown func(context.Context)
}

// Serve answers checks until Shutdown.
func (s *Server) Serve() error { return s.serve(s.ln) }

// Shutdown stops taking checks and lets those in flight finish until ctx
// ends, then ends them.
func (s *Server) Shutdown(ctx context.Context) { s.shutdown(ctx) }

// Listen opens the authz listeners the config asks for: the HTTP check
// endpoint on httpAddr (authz.http_address) and the gRPC service on
// grpcAddr (authz.grpc_address), each only when given, both answering with
// d's decisions. On error nothing stays open.
func Listen(httpAddr, grpcAddr string, d Decider, o HTTPOptions, log *slog.Logger) ([]*Server, error) {
	var out []*Server
	fail := func(err error) ([]*Server, error) {
		for _, s := range out {
			s.ln.Close()
		}
		return nil, err
	}
	if httpAddr != "" {
		ln, err := net.Listen("tcp", httpAddr)
		if err != nil {
			return fail(fmt.Errorf("listening on authz.http_address %s: %w", httpAddr, err))
		}
		srv := &http.Server{Handler: NewHTTPHandler(d, o),
			ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		out = append(out, &Server{Name: "authz HTTP " + ln.Addr().String(), ln: ln,
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
	if grpcAddr != "" {
		ln, err := net.Listen("tcp", grpcAddr)
		if err != nil {
			return fail(fmt.Errorf("listening on authz.grpc_address %s: %w", grpcAddr, err))
		}
		gs := NewGRPCServer(d)
		out = append(out, &Server{Name: "authz gRPC " + ln.Addr().String(), ln: ln, serve: gs.Serve,
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
