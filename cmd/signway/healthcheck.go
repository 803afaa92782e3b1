package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/cliflag"
)

// runHealthcheck is `signway healthcheck`: it GETs the utility port's
// /healthz (or /readyz with --ready) and fails unless the answer is 200. It
// exists for the container image's HEALTHCHECK, since a distroless image
// has no shell or curl to do it.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("signway healthcheck", flag.ContinueOnError)
	addr := fs.String("utility-port", "127.0.0.1:9090", "the utility port to ask: `PORT or HOST:PORT` (a wildcard host means this machine)")
	ready := fs.Bool("ready", false, "ask /readyz (ready to serve: configuration loaded, credentials obtained) instead of /healthz (the process answers)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer (`duration`)")
	usage := "Usage:\n  signway healthcheck [--utility-port ADDR] [--ready] [--timeout D]\n\nExits 0 if signway's utility port answers 200, 1 otherwise.\n\nFlags:\n"
	if help, err := cliflag.Parse(fs, args, stdout, usage); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cliflag.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	if *timeout <= 0 {
		return cliflag.Errorf("healthcheck: --timeout must be positive, got %s", *timeout)
	}
	hostport, err := admin.DialAddress(*addr)
	if err != nil {
		return cliflag.Errorf("healthcheck: --utility-port %q: %w", *addr, err)
	}
	answer, err := admin.Probe(ctx, hostport, *ready, *timeout)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	fmt.Fprintln(stdout, answer)
	return nil
}
