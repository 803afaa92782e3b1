package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// streamingResult compares the CPU a signed streaming PUT costs signway with
// what it cannot avoid, measured in the same run: hashing the body once
// (SHA-256) and copying it through a proxy (the bare proxy).
type streamingResult struct {
	size        int64
	status      int
	originBytes string // what the origin received: the aws-chunked encoding
	peakRSS     int64
	elapsed     time.Duration
	signwayCPU  time.Duration // signway, --payload streaming
	bareCPU     time.Duration // the bare proxy forwarding the same PUT
	shaCPU      time.Duration // SHA-256 of size bytes in this process
	err         error
}

// ratio is signway's CPU over (SHA-256 + bare copy): the target is
// at most 1.5.
func (r streamingResult) ratio() float64 {
	base := r.shaCPU + r.bareCPU
	if base <= 0 {
		return 0
	}
	return float64(r.signwayCPU) / float64(base)
}

func measureStreaming(ctx context.Context, l launcher, size int64) streamingResult {
	res := streamingResult{size: size}
	logf("streaming: SHA-256 of %s MiB", mib(size))
	res.shaCPU = shaCPU(size)

	logf("streaming: bare proxy copying %s MiB", mib(size))
	bare := putThrough(ctx, l, "bare", "bare-streaming-baseline", size)
	if bare.err != nil {
		res.err = fmt.Errorf("bare proxy: %w", bare.err)
		return res
	}
	res.bareCPU = bare.cpu

	logf("streaming: signway --payload streaming, %s MiB PUT", mib(size))
	s := putThrough(ctx, l, "signway-streaming", "signway-streaming", size)
	res.status, res.originBytes, res.peakRSS, res.elapsed, res.signwayCPU, res.err = s.status, s.originBytes, s.peakRSS, s.elapsed, s.cpu, s.err
	return res
}

type putResult struct {
	status      int
	originBytes string
	peakRSS     int64
	elapsed     time.Duration
	cpu         time.Duration
	err         error
}

// putThrough starts a fresh proxy of kind, PUTs size zero bytes with a
// Content-Length through it and reads its CPU time and peak RSS.
func putThrough(ctx context.Context, l launcher, kind, label string, size int64) putResult {
	var res putResult
	proxy, base, err := l.start(ctx, kind, label)
	if err != nil {
		res.err = err
		return res
	}
	defer proxy.stop()
	before, err := cpuTime(proxy.pid())
	if err != nil {
		res.err = err
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/loadbench-bucket/streamed.bin", io.LimitReader(zeros{}, size))
	if err != nil {
		res.err = err
		return res
	}
	req.ContentLength = size
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	start := time.Now()
	resp, err := client.Do(req)
	res.elapsed = time.Since(start)
	if err != nil {
		res.err = fmt.Errorf("PUT %d bytes: %w", size, err)
		return res
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	res.status, res.originBytes = resp.StatusCode, strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		res.err = fmt.Errorf("PUT: status %d: %.200s", resp.StatusCode, body)
	}
	after, err := cpuTime(proxy.pid())
	if err == nil {
		res.cpu = after - before
	}
	if res.peakRSS, err = peakRSS(proxy.pid()); err != nil && res.err == nil {
		res.err = err
	}
	return res
}

// shaCPU is the CPU time this process spends hashing size bytes with
// SHA-256, in 64 KiB writes as the chunk signer hashes them.
func shaCPU(size int64) time.Duration {
	buf := make([]byte, 64<<10)
	h := sha256.New()
	before := selfCPU()
	for n := int64(0); n < size; n += int64(len(buf)) {
		h.Write(buf[:min(int64(len(buf)), size-n)])
	}
	h.Sum(nil)
	return selfCPU() - before
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func renderStreaming(r streamingResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Signed streaming upload (`--payload streaming`, %s MiB PUT with Content-Length)\n\n", mib(r.size))
	b.WriteString("| measure | value |\n|---|---:|\n")
	errText := ""
	if r.err != nil {
		errText = strings.ReplaceAll(r.err.Error(), "|", "\\|")
	}
	gib := float64(r.size) / (1 << 30)
	perGiB := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()/gib) }
	fmt.Fprintf(&b, "| status | %d %s |\n", r.status, errText)
	fmt.Fprintf(&b, "| origin received (bytes, aws-chunked) | %s |\n", r.originBytes)
	fmt.Fprintf(&b, "| signway peak RSS | %s MiB |\n", mib(r.peakRSS))
	fmt.Fprintf(&b, "| time | %.1f s (%.0f MiB/s) |\n", r.elapsed.Seconds(), float64(r.size)/(1<<20)/r.elapsed.Seconds())
	fmt.Fprintf(&b, "| signway CPU per GiB | %s |\n", perGiB(r.signwayCPU))
	fmt.Fprintf(&b, "| SHA-256 CPU per GiB (this machine, this run) | %s |\n", perGiB(r.shaCPU))
	fmt.Fprintf(&b, "| bare proxy CPU per GiB (same PUT) | %s |\n", perGiB(r.bareCPU))
	fmt.Fprintf(&b, "| signway / (SHA-256 + bare copy) | %.2f (target <= 1.5) |\n", r.ratio())
	return b.String()
}
