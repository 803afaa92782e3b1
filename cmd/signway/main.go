// Command signway is an AWS SigV4 signing gateway: callers send plain HTTP,
// signway signs each request with AWS credentials and forwards it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "signway:", err)
		os.Exit(exitCode(err))
	}
}

// usageError is a command line mistake: exit status 2, like the flag package.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// run is the whole program; main only adds signals and the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version", "-V":
			fmt.Fprintf(stdout, "signway %s\n", version)
			return nil
		case "demo":
			return runDemo(ctx, args[1:], stdout, stderr)
		case "credentials":
			return runCredentials(ctx, args[1:], stdout, stderr)
		case "validate":
			return runValidate(ctx, args[1:], stdout, stderr)
		case "sign":
			return runSign(ctx, args[1:], os.Stdin, stdout, stderr)
		case "healthcheck":
			return runHealthcheck(ctx, args[1:], stdout, stderr)
		}
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg == nil {
		return nil // -h
	}
	return serve(ctx, cfg, stdout, stderr)
}
