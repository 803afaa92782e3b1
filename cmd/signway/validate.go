package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/config"
)

// runValidate is `signway validate --config FILE`: it loads the file exactly
// as startup does (same expansion, same Validate) and lists every problem
// with its field path and line, so a file can be fixed in one pass or
// checked in CI before it is deployed. Problems make it return an error
// (exit 1); a mistake on its own command line is a cliflag.UsageError (exit 2).
func runValidate(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("signway validate", flag.ContinueOnError)
	var path string
	fs.StringVar(&path, "config", "", "the YAML config `file` to check (required)")
	usage := "Usage:\n  signway validate --config FILE\n\nChecks a config file and lists every problem with its field and line.\n\nFlags:\n"
	if help, err := cliflag.Parse(fs, args, stdout, usage); help || err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return cliflag.Errorf("validate: unexpected argument %q (give the file with --config)", fs.Arg(0))
	case path == "":
		return cliflag.Errorf("validate: --config FILE is required")
	}
	cfg, err := config.Load(path, os.LookupEnv)
	var pe *config.ProblemsError
	switch {
	case errors.As(err, &pe):
		fmt.Fprintf(stdout, "%s: %s\n", path, plural(len(pe.Problems), "problem"))
		for _, p := range pe.Problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		return fmt.Errorf("%s is not a valid config: %s", path, plural(len(pe.Problems), "problem"))
	case err != nil:
		return err
	}
	msg := "config OK: " + plural(len(cfg.Routes), "route")
	if len(cfg.Hosts) > 0 {
		msg += ", " + plural(len(cfg.Hosts), "allowed host")
	}
	fmt.Fprintln(stdout, msg)
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
