package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// environment describes the run, so a report pasted elsewhere says what
// produced it.
func environment(cfg config) string {
	wrkVersion := "wrk (version unknown)"
	// wrk -v prints its version and exits non-zero.
	if out, _ := exec.Command(cfg.wrk, "-v").CombinedOutput(); len(out) > 0 {
		wrkVersion = strings.SplitN(strings.TrimSpace(string(out)), " Copyright", 2)[0]
	}
	// Other work on a 2-core machine skews everything; say how busy it was.
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	// signway sets its own collector target when GOGC is unset, the bare
	// proxies keep Go's: say which, since it moves CPU per request. 200 is
	// cmd/signway's gcPercent (another main package: not importable).
	gc := "GOGC unset: the bare proxies run at Go's default 100, signway at its default 200"
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		gc = "GOGC=" + v + " for every proxy"
	}
	return fmt.Sprintf("%s, %d CPUs (load average before the run: %s), %s, %s %s; %s; %s -t%d -c%d -d%s (warm-up %s), %d rounds, medians; %d B GETs from a loopback origin; peak RSS from a fresh proxy per %s MiB PUT",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), load, runtime.Version(), runtime.GOOS, runtime.GOARCH, gc,
		wrkVersion, cfg.threads, cfg.connections, cfg.duration, cfg.warmup, cfg.rounds, getBodySize, mib(cfg.uploadSize))
}

func renderReport(cfg config, env string, phases []*phase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## signway load benchmark\n\n%s\n\n", env)
	for _, ph := range phases {
		renderPhase(&b, cfg, ph)
	}
	return b.String()
}

// renderPhase writes one origin's summary (medians, and ratios to the
// first proxy, the baseline), its rounds and, for the plain origin, its uploads.
func renderPhase(b *strings.Builder, cfg config, ph *phase) {
	results := ph.results
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(b, "### %s\n\n", ph.upstream.describe())
	base := results[0]
	baseRPS, baseCPU := medianOf(base.samples, reqPerSec), medianOf(base.samples, cpuMicros)
	baseP50, baseP99 := medianLatency(base.samples, p50Of), medianLatency(base.samples, p99Of)
	withUploads := !cfg.skipUpload && !ph.upstream.tls

	fmt.Fprintf(b, "| proxy | req/s | req/s vs %[1]s | proxy CPU µs/req | CPU vs %[1]s | p50 | p50 vs %[1]s | p99 | p99 vs %[1]s | non-2xx |", base.label)
	sep := "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	if withUploads {
		b.WriteString(" peak RSS MiB, PUT with length | peak RSS MiB, chunked PUT |")
		sep += "---:|---:|"
	}
	b.WriteString("\n" + sep + "\n")
	for _, pr := range results {
		rps, cpu := medianOf(pr.samples, reqPerSec), medianOf(pr.samples, cpuMicros)
		l50, l99 := medianLatency(pr.samples, p50Of), medianLatency(pr.samples, p99Of)
		var non2xx int64
		for _, s := range pr.samples {
			non2xx += s.wrk.non2xx
		}
		fmt.Fprintf(b, "| %s | %.0f | %s | %.1f | %s | %s | %s | %s | %s | %d |", pr.label,
			rps, ratio(rps, baseRPS), cpu, ratio(cpu, baseCPU),
			l50, ratio(float64(l50), float64(baseP50)), l99, ratio(float64(l99), float64(baseP99)), non2xx)
		if withUploads {
			fmt.Fprintf(b, " %s | %s |", uploadCell(pr, false, false), uploadCell(pr, true, false))
		}
		b.WriteString("\n")
	}

	if len(results) > 1 {
		fmt.Fprintf(b, "\nRound by round, each proxy over %[1]s in the same round: the two ran back to back, so the machine's drift over the run cancels out of each ratio, as it does not out of the ratios of medians above. Median (lowest-highest) over rounds.\n\n| proxy | req/s vs %[1]s | CPU vs %[1]s | p50 vs %[1]s | p99 vs %[1]s |\n|---|---:|---:|---:|---:|\n", base.label)
		for _, pr := range results[1:] {
			b.WriteString("| " + pr.label + " |")
			for _, f := range []func(sample) float64{reqPerSec, cpuMicros, p50Of, p99Of} {
				b.WriteString(" " + ratioSpread(roundRatios(pr.samples, base.samples, f)) + " |")
			}
			b.WriteString("\n")
		}
	}
	renderTogether(b, cfg, results)
	b.WriteString("\n")
	renderRounds(b, "Rounds", results, func(pr *proxyResult) []sample { return pr.samples })
	if len(base.together) > 0 {
		renderRounds(b, "Rounds, loaded together", results, func(pr *proxyResult) []sample { return pr.together })
	}

	if withUploads {
		b.WriteString("#### Uploads\n\n| proxy | body | status | origin received (bytes) | time | MiB/s | peak RSS MiB | error |\n|---|---|---:|---:|---:|---:|---:|---|\n")
		for _, pr := range results {
			for _, u := range pr.uploads {
				errText := ""
				if u.err != nil {
					errText = strings.ReplaceAll(u.err.Error(), "\n", " ")
					errText = strings.ReplaceAll(errText, "|", "\\|")
				}
				rate := 0.0
				if u.err == nil && u.elapsed > 0 {
					rate = float64(cfg.uploadSize) / (1 << 20) / u.elapsed.Seconds()
				}
				fmt.Fprintf(b, "| %s | %s | %d | %s | %.1fs | %.0f | %s | %s |\n", pr.label, bodyMode(u.chunked),
					u.status, u.originBytes, u.elapsed.Seconds(), rate, mib(u.peakRSS), errText)
			}
		}
		b.WriteString("\n")
	}
}

// renderRounds lists every round's figures for every proxy, by round.
func renderRounds(b *strings.Builder, title string, results []*proxyResult, of func(*proxyResult) []sample) {
	fmt.Fprintf(b, "#### %s\n\n| round | proxy | req/s | proxy CPU µs/req | proxy CPU s | latency avg | p50 | p99 | non-2xx | socket errors |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---|\n", title)
	var all []sample
	for _, pr := range results {
		all = append(all, of(pr)...)
	}
	slices.SortStableFunc(all, func(a, b sample) int { return a.round - b.round })
	for _, s := range all {
		fmt.Fprintf(b, "| %d | %s | %.0f | %.1f | %.2f | %s | %s | %s | %d | %s |\n", s.round, s.proxyLabel,
			s.wrk.reqPerSec, micros(s.cpuPerReq), s.cpu.Seconds(), s.wrk.latencyAvg, s.wrk.p50, s.wrk.p99, s.wrk.non2xx, s.wrk.socketErrors)
	}
	b.WriteString("\n")
}

func uploadCell(pr *proxyResult, chunked, skipped bool) string {
	if skipped {
		return "skipped"
	}
	for _, u := range pr.uploads {
		if u.chunked != chunked {
			continue
		}
		if u.err != nil {
			if u.peakRSS > 0 {
				return mib(u.peakRSS) + " (failed)"
			}
			return "failed"
		}
		return mib(u.peakRSS)
	}
	return "-"
}

func bodyMode(chunked bool) string {
	if chunked {
		return "chunked"
	}
	return "Content-Length"
}

// The figures a report compares, one sample at a time.
func reqPerSec(s sample) float64 { return s.wrk.reqPerSec }
func cpuMicros(s sample) float64 { return micros(s.cpuPerReq) }
func p50Of(s sample) float64     { return float64(s.wrk.p50) }
func p99Of(s sample) float64     { return float64(s.wrk.p99) }

// medianOf is the median of f over samples.
func medianOf(samples []sample, f func(sample) float64) float64 {
	v := make([]float64, 0, len(samples))
	for _, s := range samples {
		v = append(v, f(s))
	}
	return median(v)
}

// medianLatency is the median over samples of one latency percentile
// (p50Of or p99Of).
func medianLatency(samples []sample, pick func(sample) float64) time.Duration {
	return time.Duration(medianOf(samples, pick)).Round(time.Microsecond)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// roundRatios are the figures of samples over base's, round by round, for
// the rounds both ran. On a shared VM the bare proxy's CPU per request moved by up to
// 1.5x within one run; two runs in the same round are next to each other in
// time, so that drift cancels out of their ratio.
func roundRatios(samples, base []sample, f func(sample) float64) []float64 {
	baseline := make(map[int]float64, len(base))
	for _, s := range base {
		baseline[s.round] = f(s)
	}
	var r []float64
	for _, s := range samples {
		if b, ok := baseline[s.round]; ok && b > 0 {
			r = append(r, f(s)/b)
		}
	}
	return r
}

// ratioSpread is "median (lowest-highest)".
func ratioSpread(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f (%.2f-%.2f)", median(v), slices.Min(v), slices.Max(v))
}

func ratio(v, base float64) string {
	if base == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v/base)
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f", float64(n)/(1<<20))
}
