package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

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
	hostport, err := dialAddress(*addr)
	if err != nil {
		return cliflag.Errorf("healthcheck: --utility-port %q: %w", *addr, err)
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	url := "http://" + hostport + path
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// No proxy: HTTP_PROXY set for the gateway's own use must not divert this.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s: %s", url, resp.Status, text)
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, text)
	return nil
}

// dialAddress turns a listen address (the --utility-port forms: "9090",
// ":9090", "0.0.0.0:9090", "[::]:9090") into one to connect to.
func dialAddress(addr string) (string, error) {
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port == "" {
		return "", errors.New("no port")
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port), nil
}
