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
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/signcli"
)

// version is set at build time with -ldflags "-X main.version=..."; else
// the module version from the build info.
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

// exitCode is 2 for a command-line mistake, like the flag package.
func exitCode(err error) int {
	if u := (*cliflag.UsageError)(nil); errors.As(err, &u) {
		return 2
	}
	return 1
}

// command is a subcommand: `signway NAME ...`.
type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists every subcommand; help and an unknown command print them.
func commands() []command {
	return []command{
		{"validate", "validate --config FILE", "check a config file and list every problem with its field and line", runValidate},
		{"credentials", "credentials check [flags]", "obtain AWS credentials as signway would and say where they came from", runCredentials},
		{"sign", "sign [flags] URL", "sign one request as the gateway would and print it, or send it", func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return signcli.Run(ctx, args, os.Stdin, stdout, stderr, signcli.Deps{FromFlags: configFromFlags})
		}},
		{"ca", "ca init DIR", "write a CA for the forward proxy's interception (ca.pem, ca-key.pem)", runCA},
		{"healthcheck", "healthcheck [flags]", "ask a running signway's /readyz, for container health checks", runHealthcheck},
		{"demo", "demo [--once] [--listen-on ADDR]", "run a self-contained demo on loopback", runDemo},
		{"version", "version", "print the version and the VCS revision", runVersion},
		{"help", "help [COMMAND]", "print this help, or a command's", runHelp},
	}
}

// run is the whole program; main only adds signals and the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		for _, c := range commands() {
			if c.name == args[0] {
				return c.run(ctx, args[1:], stdout, stderr)
			}
		}
		return unknownCommand(args[0])
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-V") {
		return runVersion(ctx, nil, stdout, stderr)
	}
	o, err := parseFlags(args, stdout)
	if err != nil || o == nil { // nil: -h
		return err
	}
	return serve(ctx, o, stdout, stderr)
}

func commandList() string {
	var b strings.Builder
	b.WriteString("Commands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  signway %-34s %s\n", c.usage, c.summary)
	}
	return b.String()
}

func unknownCommand(name string) error {
	return cliflag.Errorf("unknown command %q\n%s(signway --help lists the flags)", name, commandList())
}

func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] != "help" {
		return run(ctx, []string{args[0], "--help"}, stdout, stderr)
	}
	_, err := parseFlags([]string{"--help"}, stdout)
	return err
}

func runVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return cliflag.Errorf("version: unexpected argument %q", args[0])
	}
	fmt.Fprintln(stdout, versionLine())
	return nil
}

// versionLine is the version and where it was built from: the module
// version and VCS revision Go records in the binary.
func versionLine() string {
	v, details := version, []string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
		if rev != "" {
			details = append(details, "revision "+rev+modified)
		}
		details = append(details, bi.GoVersion)
	}
	return strings.TrimSpace("signway " + v + " " + strings.Join(details, ", "))
}

// configFromFlags is the one-route config the command line makes, for
// `signway sign` to sign as the gateway would.
func configFromFlags(args []string) (*config.Config, error) {
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		return nil, err
	}
	return o.Config()
}
