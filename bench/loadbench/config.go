package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

type config struct {
	duration    time.Duration // measured wrk run per proxy per round
	warmup      time.Duration // unmeasured wrk run before each measured one
	connections int
	threads     int
	rounds      int
	// togetherRounds follow the alternating rounds, with every proxy
	// loaded at once (measureTogether); 0 skips them.
	togetherRounds int
	uploadSize     int64
	proxies        []string // proxyKinds; may repeat for a control run
	upstreams      []upstream
	signwayBin     string // prebuilt binary; empty: build signwayPkg
	signwayPkg     string
	wrk            string
	out            string
	skipUpload     bool
	skipChecks     bool
}

// proxyKinds are the proxies -proxies may name.
var proxyKinds = []string{"bare", "bare-pooled", "bare-signing", "bare-sdk-signing", "signway"}

func parseConfig(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured wrk duration per proxy per round")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured wrk run before each measurement (0 to skip)")
	fs.IntVar(&c.connections, "connections", 64, "wrk connections (-c)")
	fs.IntVar(&c.threads, "threads", 2, "wrk threads (-t)")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds; the proxies alternate within each and medians are reported")
	fs.IntVar(&c.togetherRounds, "together-rounds", 5, "rounds, after the alternating ones, with every proxy loaded at the same time by its own wrk (one thread, half the connections); 0 to skip")
	fs.Int64Var(&c.uploadSize, "upload-size", 1<<30, "bytes in the PUT whose peak RSS is measured")
	fs.BoolVar(&c.skipUpload, "skip-upload", false, "skip the peak-RSS upload measurement")
	fs.BoolVar(&c.skipChecks, "skip-checks", false, "skip the signing-service measurement (HTTP check and gRPC Check against proxying)")
	proxies := fs.String("proxies", "bare-pooled,bare-signing,signway", "comma-separated proxies to compare, the first is the baseline: bare-pooled (the reference: httputil.ReverseProxy, 1024 idle conns per host, pooled copy buffers), bare (without the buffer pool), bare-signing (bare-pooled that also signs each request on a clone with signway's signer and does nothing else: the floor of what signing costs), bare-sdk-signing (the same with aws-sdk-go-v2's signer), signway; repeat one for a control run")
	upstreams := fs.String("upstreams", "plain,tls-h2,tls-h1", "comma-separated origins to measure against: plain (HTTP), tls-h2 (TLS offering HTTP/2), tls-h1 (TLS, HTTP/1.1 only)")
	fs.StringVar(&c.signwayBin, "signway-bin", "", "signway binary to use instead of building -signway-pkg")
	fs.StringVar(&c.signwayPkg, "signway-pkg", "./cmd/signway", "package to build signway from (run from the repository root)")
	fs.StringVar(&c.wrk, "wrk", "wrk", "wrk binary")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, p := range strings.Split(*proxies, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(proxyKinds, p) {
			return c, fmt.Errorf("-proxies: unknown proxy %q (want one of %s)", p, strings.Join(proxyKinds, ", "))
		}
		c.proxies = append(c.proxies, p)
	}
	for _, name := range strings.Split(*upstreams, ",") {
		u, ok := upstreamKinds[strings.TrimSpace(name)]
		if !ok {
			return c, fmt.Errorf("-upstreams: unknown origin %q (want plain, tls-h2 or tls-h1)", name)
		}
		c.upstreams = append(c.upstreams, u)
	}
	switch {
	case c.duration <= 0 || c.rounds <= 0 || c.connections <= 0 || c.threads <= 0:
		return c, errors.New("-duration, -rounds, -connections and -threads must be positive")
	case c.togetherRounds < 0:
		return c, errors.New("-together-rounds must be 0 or more")
	case c.uploadSize <= 0:
		return c, errors.New("-upload-size must be positive")
	}
	return c, nil
}
