package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/signway/signway/internal/demo"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
)

// demoCreds are made up: the embedded upstream accepts them and nothing else.
var demoCreds = sigv4.Credentials{AccessKeyID: "AKIASIGNWAYDEMO00001", SecretAccessKey: "signway-demo-secret/not-for-production"}

type demoStep struct {
	what   string
	method string
	url    func(proxyURL, upstreamURL string) string
	body   string
	want   int
}

var demoSteps = []demoStep{
	{"store an object through signway", http.MethodPut, func(p, _ string) string { return p + "/hello.txt" }, "Hello from signway!\n", 200},
	{"read it back", http.MethodGet, func(p, _ string) string { return p + "/hello.txt" }, "", 200},
	{"a key with spaces, +, =, :, @ and ()", http.MethodPut, func(p, _ string) string { return p + "/reports/2026%20Q1/a+b=c:d@e%20(1).txt" }, "quarterly numbers\n", 200},
	{"list keys under reports/", http.MethodGet, func(p, _ string) string { return p + "/?prefix=reports/" }, "", 200},
	{"the same read sent straight to the upstream, unsigned", http.MethodGet, func(_, u string) string { return u + "/hello.txt" }, "", 403},
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("signway demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen-on", "127.0.0.1:8080", "address for the demo's signway listener (a free port is used if it is taken)")
	once := fs.Bool("once", false, "exit after the scripted requests instead of serving until Ctrl-C")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the demo upstream: %w", err)
	}
	upstreamURL := "http://" + upLn.Addr().String()
	upstream := &http.Server{Handler: demo.NewUpstream(demoCreds, time.Now, log), ReadHeaderTimeout: 10 * time.Second}
	go upstream.Serve(upLn)
	defer upstream.Close()

	target, _ := url.Parse(upstreamURL)
	p, err := proxy.New(proxy.Options{Logger: log, Route: &proxy.Route{
		Name: "demo", Target: target, Service: "s3", Region: "us-east-1",
		Credentials: func(context.Context) (sigv4.Credentials, error) { return demoCreds, nil },
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
		upstreamURL, proxyURL, demoCreds.AccessKeyID)
	failed := 0
	client := &http.Client{Timeout: 10 * time.Second}
	for _, s := range demoSteps {
		status, verified, body, err := demoRequest(ctx, client, s.method, s.url(proxyURL, upstreamURL), s.body)
		mark := "ok"
		if err != nil || status != s.want {
			mark, failed = "UNEXPECTED", failed+1
		}
		fmt.Fprintf(stdout, "[%s] %s\n     %s %s -> %d %s\n", mark, s.what, s.method, s.url(proxyURL, upstreamURL), status, summarize(body, err))
		if verified != "" {
			fmt.Fprintf(stdout, "     the upstream verified: %s\n", verified)
		}
	}
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

func demoRequest(ctx context.Context, c *http.Client, method, url, body string) (status int, verified, respBody string, err error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, "", "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, resp.Header.Get("X-Demo-Verified"), string(b), err
}

// summarize shows a response body on one line: the stored text, the listed
// keys, or an error's code.
func summarize(body string, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if i := strings.Index(body, "<Code>"); i >= 0 {
		code, _, _ := strings.Cut(body[i+6:], "<")
		msg := ""
		if j := strings.Index(body, "<Message>"); j >= 0 {
			msg, _, _ = strings.Cut(body[j+9:], "<")
			msg = ": " + html.UnescapeString(strings.TrimPrefix(msg, "sigv4 verify: "))
		}
		return "(" + code + msg + ")"
	}
	if strings.Contains(body, "<ListBucketResult") {
		var keys []string
		for _, part := range strings.Split(body, "<Key>")[1:] {
			k, _, _ := strings.Cut(part, "<")
			keys = append(keys, k)
		}
		return "keys: " + strings.Join(keys, ", ")
	}
	return strings.TrimSpace(body)
}
