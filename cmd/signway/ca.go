package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/forwardproxy"
)

// runCA is `signway ca init DIR`: a new CA for the forward proxy's
// interception, as DIR/ca.pem and an owner-only DIR/ca-key.pem.
func runCA(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("signway ca init", flag.ContinueOnError)
	usage := "Usage:\n  signway ca init DIR\n\nWrites a new CA for forward_proxy: DIR/ca.pem (give it to the clients, e.g. AWS_CA_BUNDLE)\nand DIR/ca-key.pem (readable by its owner only). An existing key is never overwritten.\n\nFlags:\n"
	if len(args) == 0 || args[0] != "init" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, usage)
			return nil
		}
		return cliflag.Errorf("ca: the only subcommand is init: signway ca init DIR")
	}
	if help, err := cliflag.Parse(fs, args[1:], stdout, usage); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cliflag.Errorf("ca init: give the directory to write the CA to: signway ca init DIR")
	}
	certFile, keyFile, err := forwardproxy.InitCA(fs.Arg(0), time.Now())
	if err != nil {
		return fmt.Errorf("ca init: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (give it to the clients: AWS_CA_BUNDLE=%s)\nwrote %s (mode 0600; keep it to signway)\n", certFile, certFile, keyFile)
	fmt.Fprintf(stdout, "in the config:\nforward_proxy:\n  ca_cert_file: %s\n  ca_key_file: %s\n", certFile, keyFile)
	return nil
}
