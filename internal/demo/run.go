package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

// Options configure [Run].
type Options struct {
	Listen string       // address for the demo's signway; a free port if it is taken
	Once   bool         // return after the script instead of serving until ctx ends
	Stdout io.Writer    // the script's story
	Logger *slog.Logger // the upstream's and the proxy's logs
}

// Run is `signway demo`: an embedded upstream, signway in front of it with
// the demo credentials, and the scripted requests through it.
func Run(ctx context.Context, o Options) error {
	stdout, log := o.Stdout, o.Logger
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the demo upstream: %w", err)
	}
	upstreamURL := "http://" + upLn.Addr().String()
	upstream := &http.Server{Handler: NewUpstream(Credentials, time.Now, log), ReadHeaderTimeout: 10 * time.Second}
	go upstream.Serve(upLn)
	defer upstream.Close()

	target, _ := url.Parse(upstreamURL)
	p, err := proxy.New(proxy.Options{Logger: log, Route: &proxy.Route{
		Name: "demo", Target: target, Service: "s3", Region: "us-east-1",
		Credentials: func(context.Context) (sigv4.Credentials, error) { return Credentials, nil },
	}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		fmt.Fprintf(stdout, "%s is taken (%v); using a free port instead.\n", o.Listen, err)
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("starting the demo listener: %w", err)
		}
	}
	proxyURL := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	fmt.Fprintf(stdout, "signway demo\n  upstream: %s  (an in-memory S3-like store that verifies SigV4 signatures)\n  signway:  %s  (signs with demo credentials %s, forwards to the upstream)\n\n",
		upstreamURL, proxyURL, Credentials.AccessKeyID)
	failed := Script(ctx, stdout, proxyURL, upstreamURL)
	fmt.Fprintf(stdout, "\nTry it yourself (no credentials needed on your side):\n"+
		"  curl -X PUT --data-binary 'hi there' %[1]s/notes/today.txt\n"+
		"  curl %[1]s/notes/today.txt\n"+
		"  curl '%[1]s/?prefix=notes/'\n"+
		"  curl -i %[2]s/notes/today.txt    # straight to the upstream: refused, unsigned\n", proxyURL, upstreamURL)
	if failed > 0 {
		return fmt.Errorf("%d demo step(s) did not give the expected answer", failed)
	}
	if o.Once {
		return nil
	}
	fmt.Fprintln(stdout, "\nsignway is running; press Ctrl-C to stop.")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}
