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
	samples     []sample
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

	originAddr, err := freeAddr()
	if err != nil {
		return err
	}
	l.originURL = "http://" + originAddr
	origin, err := startChild(ctx, "origin", tmp, l.originURL+"/ready", os.Environ(), self, "origin", "-listen", originAddr)
	if err != nil {
		return err
	}
	defer origin.stop()

	results := labelProxies(cfg.proxies)
	if err := measureThroughput(ctx, cfg, l, results); err != nil {
		return err
	}
	if !cfg.skipUpload {
		for _, pr := range results {
			for _, chunked := range []bool{false, true} {
				logf("upload: %s, %s", pr.label, map[bool]string{false: "Content-Length", true: "chunked"}[chunked])
				u := measureUpload(ctx, l, pr.kind, pr.label, cfg.uploadSize, chunked)
				if errors.Is(u.err, context.Canceled) {
					return u.err
				}
				pr.uploads = append(pr.uploads, u)
			}
		}
	}

	var streaming *streamingResult
	if !cfg.skipUpload && slices.Contains(cfg.proxies, "signway") {
		r := measureStreaming(ctx, l, cfg.uploadSize)
		if errors.Is(r.err, context.Canceled) {
			return r.err
		}
		streaming = &r
	}

	report := renderReport(cfg, env, results)
	if streaming != nil {
		report += renderStreaming(*streaming)
	}
	fmt.Print(report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	return nil
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
			url := bases[i] + "/loadbench-bucket/object-1k"
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
			logf("round %d/%d %-10s %8.0f req/s  %6.1f µs CPU/req  non-2xx %d", round, cfg.rounds, pr.label,
				w.reqPerSec, micros(s.cpuPerReq), w.non2xx)
		}
	}
	return nil
}

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
