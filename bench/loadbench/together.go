package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// measureTogether loads every proxy at the same time, each through its own
// wrk (one thread, half the connections), round after round. Measured one
// after the other, two proxies meet different machines: on a shared VM the
// same proxy's CPU per request moved by 1.5x within a run. Loaded together,
// a change of speed hits all of them at once and cancels out of their
// ratios; what is left is what each one costs per request when they
// compete for the same cores.
func measureTogether(ctx context.Context, cfg config, origin string, children []*child, bases []string, results []*proxyResult) error {
	each := cfg
	each.threads, each.connections = 1, max(1, cfg.connections/2)
	for round := 1; round <= cfg.togetherRounds; round++ {
		if cfg.warmup > 0 {
			if _, err := wrkAll(ctx, each, bases, cfg.warmup, round%2 == 0); err != nil {
				return fmt.Errorf("warm-up, loaded together: %w", err)
			}
		}
		before := make([]time.Duration, len(children))
		for i, c := range children {
			var err error
			if before[i], err = cpuTime(c.pid()); err != nil {
				return fmt.Errorf("%s: %w", results[i].label, err)
			}
		}
		ws, err := wrkAll(ctx, each, bases, cfg.duration, round%2 == 0)
		if err != nil {
			return fmt.Errorf("round %d, loaded together: %w", round, err)
		}
		for i, c := range children {
			after, err := cpuTime(c.pid())
			if err != nil {
				return fmt.Errorf("%s: %w", results[i].label, err)
			}
			s := sample{round: round, wrk: ws[i], cpu: after - before[i], proxyLabel: results[i].label}
			if ws[i].requests > 0 {
				s.cpuPerReq = s.cpu / time.Duration(ws[i].requests)
			}
			results[i].together = append(results[i].together, s)
			logf("%s together %d/%d %-16s %8.0f req/s  %6.1f µs CPU/req  p50 %s  p99 %s  non-2xx %d", origin, round, cfg.togetherRounds,
				results[i].label, ws[i].reqPerSec, micros(s.cpuPerReq), ws[i].p50, ws[i].p99, ws[i].non2xx)
		}
	}
	return nil
}

// wrkAll runs one wrk per base URL, all at once. They start one after the
// other, in reverse order when reverse is set. Order matters: two copies of
// one signway build, loaded by a script that always started the same one
// first, differed by 3-8% of CPU per request in 5 of 6 rounds, the first
// one cheaper. Alternating the order, three copies of the bare proxy came
// out at 1.00 and 1.01 (-proxies bare-pooled,bare-pooled,bare-pooled).
func wrkAll(ctx context.Context, cfg config, bases []string, d time.Duration, reverse bool) ([]wrkResult, error) {
	out := make([]wrkResult, len(bases))
	errs := make([]error, len(bases))
	order := make([]int, len(bases))
	for i := range order {
		order[i] = i
	}
	if reverse {
		slices.Reverse(order)
	}
	var wg sync.WaitGroup
	for _, i := range order {
		wg.Go(func() { out[i], errs[i] = runWrk(ctx, cfg, bases[i]+getPath, d) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// renderTogether summarises the rounds with every proxy loaded at once:
// medians, and ratios to the baseline round by round.
func renderTogether(b *strings.Builder, cfg config, results []*proxyResult) {
	base := results[0]
	if len(results) < 2 || len(base.together) == 0 {
		return
	}
	fmt.Fprintf(b, "\nLoaded together: every proxy under its own `wrk -t1 -c%d` at the same time, %d rounds, so the machine's speed changes hit all of them alike. Ratios to %s round by round, median (lowest-highest).\n\n",
		max(1, cfg.connections/2), cfg.togetherRounds, base.label)
	fmt.Fprintf(b, "| proxy | req/s | proxy CPU µs/req | req/s vs %[1]s | CPU vs %[1]s | p50 vs %[1]s | p99 vs %[1]s |\n|---|---:|---:|---:|---:|---:|---:|\n", base.label)
	for _, pr := range results {
		fmt.Fprintf(b, "| %s | %.0f | %.1f |", pr.label, medianOf(pr.together, reqPerSec), medianOf(pr.together, cpuMicros))
		for _, f := range []func(sample) float64{reqPerSec, cpuMicros, p50Of, p99Of} {
			b.WriteString(" " + ratioSpread(roundRatios(pr.together, base.together, f)) + " |")
		}
		b.WriteString("\n")
	}
}
