package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Signing as a service (issue 10): one signway, one route, answering the
// same GET three ways under the same load, and the CPU each costs it:
// signing and proxying it (proxy), the HTTP check endpoint as nginx or
// Traefik ask it (http-check), and Envoy's ext_authz Check over gRPC
// (grpc-check). Only signway's CPU is counted, so the clients' own costs
// (wrk, the gRPC driver here) do not enter the ratios.

// checkForms are the three ways, in the order of a round.
var checkForms = []string{"proxy", "http-check", "grpc-check"}

// checkSample is one measured run of one form.
type checkSample struct {
	form      string
	requests  int64
	failed    int64
	reqPerSec float64
	cpuPerReq time.Duration
}

// checkResult is every sample of the checks measurement.
type checkResult struct {
	samples []checkSample
	err     error
}

// measureChecks starts signway with a config that opens both authz
// listeners in front of the plain origin, and measures each form per round.
func measureChecks(ctx context.Context, cfg config, l launcher, tmp string) checkResult {
	var addrs [4]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return checkResult{err: err}
		}
		addrs[i] = a
	}
	listen, utility, httpAuthz, grpcAuthz := addrs[0], addrs[1], addrs[2], addrs[3]
	conf := fmt.Sprintf(`listen: {address: %s}
utility: {address: %s}
authz:
  http_address: %s
  grpc_address: %s
routes:
  - name: data
    url: %s
    service: s3
    region: us-east-1
    credentials: {source: env}
`, listen, utility, httpAuthz, grpcAuthz, l.originURL)
	path := tmp + "/checks.yaml"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return checkResult{err: err}
	}
	sw, err := startChild(ctx, "signway-checks", l.logDir, "http://"+listen+"/loadbench-ready", signwayEnv(), l.signwayBin, "--config", path)
	if err != nil {
		return checkResult{err: err}
	}
	defer sw.stop()

	driver, err := buildCheckload(ctx, tmp)
	if err != nil {
		return checkResult{err: err}
	}

	const object = "/loadbench-bucket/object-1k"
	run := func(form string, d time.Duration) (requests, failed int64, rate float64, err error) {
		switch form {
		case "proxy":
			w, err := runWrk(ctx, cfg, "http://"+listen+object, d)
			return w.requests, w.non2xx, w.reqPerSec, err
		case "http-check":
			w, err := runWrk(ctx, cfg, "http://"+httpAuthz+"/check", d,
				"X-Forwarded-Method: GET", "X-Forwarded-Uri: "+object, "X-Forwarded-Host: "+listen)
			return w.requests, w.non2xx, w.reqPerSec, err
		default:
			return runCheckload(ctx, driver, grpcAuthz, listen, cfg.connections, d)
		}
	}
	var res checkResult
	for round := 1; round <= cfg.rounds; round++ {
		forms := checkForms
		if round%2 == 0 {
			forms = []string{checkForms[2], checkForms[1], checkForms[0]}
		}
		for _, form := range forms {
			if cfg.warmup > 0 {
				if _, _, _, err := run(form, cfg.warmup); err != nil {
					return checkResult{err: fmt.Errorf("warm-up of %s: %w", form, err)}
				}
			}
			before, err := cpuTime(sw.pid())
			if err != nil {
				return checkResult{err: err}
			}
			n, failed, rate, err := run(form, cfg.duration)
			if err != nil {
				return checkResult{err: fmt.Errorf("%s round %d: %w", form, round, err)}
			}
			after, err := cpuTime(sw.pid())
			if err != nil {
				return checkResult{err: err}
			}
			s := checkSample{form: form, requests: n, failed: failed, reqPerSec: rate}
			if n > 0 {
				s.cpuPerReq = (after - before) / time.Duration(n)
			}
			res.samples = append(res.samples, s)
			logf("checks round %d/%d %-10s %8.0f req/s  %6.1f µs CPU/req  failed %d", round, cfg.rounds, form, rate, micros(s.cpuPerReq), failed)
		}
	}
	return res
}

// renderChecks reports each form's median rate and signway CPU per request,
// as a ratio to proxying the same GET (issue 10's goal: at most 1.3x).
func renderChecks(r checkResult) string {
	var b strings.Builder
	b.WriteString("\n### Signing as a service: the same GET proxied, checked over HTTP, checked over gRPC (one signway)\n\n")
	if r.err != nil {
		fmt.Fprintf(&b, "not measured: %s\n", strings.ReplaceAll(r.err.Error(), "|", "\\|"))
		return b.String()
	}
	b.WriteString("| form | req/s | signway CPU µs/req | vs proxy | failed |\n|---|---:|---:|---:|---:|\n")
	cpu := map[string]float64{}
	for _, form := range checkForms {
		var rates, cpus []float64
		var failed int64
		for _, s := range r.samples {
			if s.form == form {
				rates, cpus = append(rates, s.reqPerSec), append(cpus, micros(s.cpuPerReq))
				failed += s.failed
			}
		}
		cpu[form] = median(cpus)
		ratio := "1.00"
		if form != "proxy" && cpu["proxy"] > 0 {
			ratio = fmt.Sprintf("**%.2f**", cpu[form]/cpu["proxy"])
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %s | %d |\n", form, median(rates), cpu[form], ratio, failed)
	}
	return b.String()
}

// buildCheckload builds the gRPC load driver (bench/checkload) into dir. It
// is a program of its own so that gRPC and Envoy's types stay out of this
// binary, which also serves the bare proxy whose memory is measured.
func buildCheckload(ctx context.Context, dir string) (string, error) {
	bin := dir + "/checkload"
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./bench/checkload").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building bench/checkload (run from the repository root): %w\n%s", err, out)
	}
	return bin, nil
}

// runCheckload drives Check for d and returns what the driver counted.
func runCheckload(ctx context.Context, bin, addr, host string, callers int, d time.Duration) (ok, failed int64, rate float64, err error) {
	cmd := exec.CommandContext(ctx, bin, "-addr", addr, "-host", host, "-callers", strconv.Itoa(callers), "-duration", d.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("checkload: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		logf("%s", msg) // calls that failed, and why
	}
	if _, err := fmt.Sscanf(string(out), "ok %d failed %d rate %g", &ok, &failed, &rate); err != nil {
		return 0, 0, 0, fmt.Errorf("checkload printed %q: %w", out, err)
	}
	return ok, failed, rate, nil
}
