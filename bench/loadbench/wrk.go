package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// wrkResult is what the report uses from one wrk run.
type wrkResult struct {
	requests     int64
	reqPerSec    float64
	latencyAvg   string // as wrk prints it, e.g. "6.12ms"
	non2xx       int64
	socketErrors string // wrk's "Socket errors:" line, empty when none
	p50, p99     time.Duration
}

var (
	reRequests  = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	reReqPerSec = regexp.MustCompile(`(?m)^Requests/sec:\s*([0-9.]+)`)
	reLatency   = regexp.MustCompile(`(?m)^\s*Latency\s+(\S+)`)
	reNon2xx    = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s*(\d+)`)
	reSockErr   = regexp.MustCompile(`(?m)^\s*Socket errors:\s*(.*)$`)
	// From --latency's "Latency Distribution" block.
	rePercentile = regexp.MustCompile(`(?m)^\s*(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
)

// runWrk runs wrk against url, sending headers ("Name: value") with each
// request. wrk is killed with the context.
func runWrk(ctx context.Context, cfg config, url string, d time.Duration, headers ...string) (wrkResult, error) {
	secs := int((d + time.Second - 1) / time.Second) // wrk takes whole seconds
	args := []string{"-t" + strconv.Itoa(cfg.threads), "-c" + strconv.Itoa(cfg.connections),
		"-d" + strconv.Itoa(secs) + "s", "--latency"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cmd := exec.CommandContext(ctx, cfg.wrk, append(args, url)...)
	// Dies with the runner even if the runner is killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w: %s", url, err, out)
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return r, fmt.Errorf("wrk %s: %w; output:\n%s", url, err, out)
	}
	return r, nil
}

func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := reRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no request count in wrk output")
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	m = reReqPerSec.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output")
	}
	r.reqPerSec, _ = strconv.ParseFloat(m[1], 64)
	if m = reLatency.FindStringSubmatch(out); m != nil {
		r.latencyAvg = m[1]
	}
	if m = reNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m = reSockErr.FindStringSubmatch(out); m != nil {
		r.socketErrors = m[1]
	}
	for _, m := range rePercentile.FindAllStringSubmatch(out, -1) {
		d, err := time.ParseDuration(m[2] + m[3])
		if err != nil {
			return r, fmt.Errorf("latency percentile %q: %w", m[0], err)
		}
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	return r, nil
}
