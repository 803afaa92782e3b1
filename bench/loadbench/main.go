// Command loadbench measures signway against a bare Go reverse proxy on
// this machine, in one run, and reports the ratios:
//
//   - throughput and proxy CPU time per request for 1 KiB GETs under wrk,
//     alternating the proxies over several rounds and taking medians;
//   - peak RSS (VmHWM) of a fresh proxy process while it forwards a 1 GiB
//     PUT, with Content-Length and with chunked transfer encoding.
//
// Every server is a separate child process (the origin and the bare proxy
// are this binary's own subcommands) so each one's CPU and memory are read
// from /proc on their own. Run it from the repository root (make bench).
//
// Usage:
//
//	loadbench [flags]                        run the benchmark
//	loadbench origin -listen ADDR            the origin server (internal)
//	loadbench bareproxy -listen ADDR -target URL   the bare proxy (internal)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "origin":
			return serveOrigin(args[1:])
		case "bareproxy":
			return serveBareProxy(args[1:])
		}
	}
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	// Interrupts cancel the context, which kills every child (exec's
	// CommandContext) before main returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return bench(ctx, cfg)
}
