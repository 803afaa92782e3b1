package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/demo"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("signway demo", flag.ContinueOnError)
	listen := fs.String("listen-on", "127.0.0.1:8080", "`address` for the demo's signway listener (a free port is used if it is taken)")
	once := fs.Bool("once", false, "exit after the scripted requests instead of serving until Ctrl-C")
	usage := "Usage:\n  signway demo [--once] [--listen-on ADDR]\n\nRuns signway in front of an embedded S3-like upstream that verifies signatures,\nsends a few requests through it and shows what happened.\n\nFlags:\n"
	if help, err := cliflag.Parse(fs, args, stdout, usage); help || err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the demo upstream: %w", err)
	}
	upstreamURL := "http://" + upLn.Addr().String()
	upstream := &http.Server{Handler: demo.NewUpstream(demo.Credentials, time.Now, log), ReadHeaderTimeout: 10 * time.Second}
	go upstream.Serve(upLn)
	defer upstream.Close()

	target, _ := url.Parse(upstreamURL)
	p, err := proxy.New(proxy.Options{Logger: log, Route: &proxy.Route{
		Name: "demo", Target: target, Service: "s3", Region: "us-east-1",
		Credentials: func(context.Context) (sigv4.Credentials, error) { return demo.Credentials, nil },
	}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stdout, "%s is taken (%v); using a free port instead.\n", *listen, err)
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("starting the demo listener: %w", err)
		}
	}
	proxyURL := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	fmt.Fprintf(stdout, "signway demo\n  upstream: %s  (an in-memory S3-like store that verifies SigV4 signatures)\n  signway:  %s  (signs with demo credentials %s, forwards to the upstream)\n\n",
		upstreamURL, proxyURL, demo.Credentials.AccessKeyID)
	failed := demo.Script(ctx, stdout, proxyURL, upstreamURL)
	fmt.Fprintf(stdout, "\nTry it yourself (no credentials needed on your side):\n"+
		"  curl -X PUT --data-binary 'hi there' %[1]s/notes/today.txt\n"+
		"  curl %[1]s/notes/today.txt\n"+
		"  curl '%[1]s/?prefix=notes/'\n"+
		"  curl -i %[2]s/notes/today.txt    # straight to the upstream: refused, unsigned\n", proxyURL, upstreamURL)
	if failed > 0 {
		return fmt.Errorf("%d demo step(s) did not give the expected answer", failed)
	}
	if *once {
		return nil
	}
	fmt.Fprintln(stdout, "\nsignway is running; press Ctrl-C to stop.")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}
