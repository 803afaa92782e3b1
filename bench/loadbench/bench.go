package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// sample is one measured wrk run through one proxy.
type sample struct {
	round      int
	wrk        wrkResult
	cpu        time.Duration // proxy CPU during the run
	cpuPerReq  time.Duration
	proxyLabel string
}

// proxyResult gathers everything measured for one proxy.
type proxyResult struct {
	label, kind string
	samples     []sample // one proxy at a time
	together    []sample // every proxy loaded at once (measureTogether)
	uploads     []uploadResult
}

func bench(ctx context.Context, cfg config) (err error) {
	if _, err := exec.LookPath(cfg.wrk); err != nil {
		return fmt.Errorf("%s not found (%w): run scripts/install-tools.sh --bench, which installs Debian's wrk", cfg.wrk, err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary to run the origin and bare proxy: %w", err)
	}
	tmp, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return fmt.Errorf("creating work directory: %w", err)
	}
	defer func() {
		// Keep the servers' logs when something went wrong.
		if logs, _ := filepath.Glob(tmp + "/*.log"); err != nil && len(logs) > 0 {
			err = fmt.Errorf("%w (server logs kept in %s)", err, tmp)
			return
		}
		_ = os.RemoveAll(tmp)
	}()

	env := environment(cfg) // before the run, so the load average is the machine's own
	l := launcher{self: self, logDir: tmp}
	if slices.Contains(cfg.proxies, "signway") {
		if l.signwayBin, err = signwayBinary(ctx, cfg, tmp); err != nil {
			return err
		}
	}

	var phases []*phase
	for _, u := range cfg.upstreams {
		ph, err := measureAgainst(ctx, cfg, l, u, tmp)
		if err != nil {
			return err
		}
		phases = append(phases, ph)
	}

	report := renderReport(cfg, env, phases)
	for _, ph := range phases {
		if ph.streaming != nil {
			report += renderStreaming(*ph.streaming)
		}
		if ph.checks != nil {
			report += renderChecks(*ph.checks)
		}
	}
	fmt.Print(report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	return nil
}

// phase is everything measured against one kind of origin.
type phase struct {
	upstream  upstream
	results   []*proxyResult
	streaming *streamingResult
	checks    *checkResult
}

// measureAgainst starts an origin of kind u and measures every proxy in
// front of it. The memory measurements (1 GiB PUTs) run against the plain
// origin only: they are about bodies, which TLS does not change.
func measureAgainst(ctx context.Context, cfg config, l launcher, u upstream, tmp string) (*phase, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	scheme, args := "http", []string{"origin", "-listen", addr}
	if u.tls {
		cert, key, err := writeSelfSigned(tmp)
		if err != nil {
			return nil, err
		}
		scheme, args = "https", append(args, u.originArgs(cert, key)...)
	}
	l.originURL, l.upstream = scheme+"://"+addr, u
	logf("origin: %s at %s", u.describe(), l.originURL)
	origin, err := startChild(ctx, "origin-"+u.name, tmp, l.originURL+"/ready", os.Environ(), l.self, args...)
	if err != nil {
		return nil, err
	}
	defer origin.stop()

	ph := &phase{upstream: u, results: labelProxies(cfg.proxies)}
	if err := measureThroughput(ctx, cfg, l, ph.results); err != nil {
		return nil, err
	}
	if u.tls {
		return ph, nil
	}
	if !cfg.skipChecks && slices.Contains(cfg.proxies, "signway") {
		r := measureChecks(ctx, cfg, l, tmp)
		if errors.Is(r.err, context.Canceled) {
			return nil, r.err
		}
		ph.checks = &r
	}
	if cfg.skipUpload {
		return ph, nil
	}
	for _, pr := range ph.results {
		for _, chunked := range []bool{false, true} {
			logf("upload: %s, %s", pr.label, bodyMode(chunked))
			up := measureUpload(ctx, l, pr.kind, pr.label, cfg.uploadSize, chunked)
			if errors.Is(up.err, context.Canceled) {
				return nil, up.err
			}
			pr.uploads = append(pr.uploads, up)
		}
	}
	if slices.Contains(cfg.proxies, "signway") {
		r := measureStreaming(ctx, l, cfg.uploadSize)
		if errors.Is(r.err, context.Canceled) {
			return nil, r.err
		}
		ph.streaming = &r
	}
	return ph, nil
}

// measureThroughput runs the wrk rounds. All proxies stay up for the whole
// phase; each round visits them in turn, reversing the order every other
// round so that neither always runs on a machine warmed by the other.
func measureThroughput(ctx context.Context, cfg config, l launcher, results []*proxyResult) error {
	children := make([]*child, len(results))
	bases := make([]string, len(results))
	defer func() {
		for _, c := range children {
			if c != nil {
				c.stop()
			}
		}
	}()
	for i, pr := range results {
		c, base, err := l.start(ctx, pr.kind, pr.label)
		if err != nil {
			return err
		}
		children[i], bases[i] = c, base
	}

	for round := 1; round <= cfg.rounds; round++ {
		order := make([]int, len(results))
		for i := range order {
			order[i] = i
		}
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, i := range order {
			pr, c := results[i], children[i]
			url := bases[i] + getPath
			if cfg.warmup > 0 {
				if _, err := runWrk(ctx, cfg, url, cfg.warmup); err != nil {
					return fmt.Errorf("warm-up of %s: %w", pr.label, err)
				}
			}
			before, err := cpuTime(c.pid())
			if err != nil {
				return fmt.Errorf("%s: %w", pr.label, err)
			}
			w, err := runWrk(ctx, cfg, url, cfg.duration)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", pr.label, round, err)
			}
			after, err := cpuTime(c.pid())
			if err != nil {
				return fmt.Errorf("%s: %w", pr.label, err)
			}
			s := sample{round: round, wrk: w, cpu: after - before, proxyLabel: pr.label}
			if w.requests > 0 {
				s.cpuPerReq = s.cpu / time.Duration(w.requests)
			}
			pr.samples = append(pr.samples, s)
			logf("%s round %d/%d %-12s %8.0f req/s  %6.1f µs CPU/req  p50 %s  p99 %s  non-2xx %d", l.upstream.name, round, cfg.rounds, pr.label,
				w.reqPerSec, micros(s.cpuPerReq), w.p50, w.p99, w.non2xx)
		}
	}
	if cfg.togetherRounds > 0 && len(results) > 1 {
		return measureTogether(ctx, cfg, l.upstream.name, children, bases, results)
	}
	return nil
}

// getPath is what every measured GET asks for.
const getPath = "/loadbench-bucket/object-1k"

// signwayBinary returns -signway-bin or builds signway into dir.
func signwayBinary(ctx context.Context, cfg config, dir string) (string, error) {
	if cfg.signwayBin != "" {
		return cfg.signwayBin, nil
	}
	bin := dir + "/signway"
	logf("building signway from %s", cfg.signwayPkg)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, cfg.signwayPkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cannot build signway from %s (run from the repository root; is cmd/signway buildable?): %w\n%s\n"+
			"to check the harness without signway, compare the bare proxy with itself: -proxies bare,bare", cfg.signwayPkg, err, out)
	}
	return bin, nil
}

// labelProxies names the proxies, numbering repeats (bare, bare#2) so a
// control run's rows can be told apart.
func labelProxies(kinds []string) []*proxyResult {
	seen := map[string]int{}
	var out []*proxyResult
	for _, k := range kinds {
		seen[k]++
		label := k
		if seen[k] > 1 {
			label += "#" + strconv.Itoa(seen[k])
		}
		out = append(out, &proxyResult{label: label, kind: k})
	}
	return out
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadbench: "+format+"\n", args...)
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
