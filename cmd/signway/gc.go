package main

import (
	"runtime/debug"
)

// gcPercent is the garbage collector's target while signway serves, unless
// GOGC says otherwise. A proxy's live heap is small (connection buffers, its
// config, the AWS SDK's tables: a few MB), so at Go's default of 100 the
// collector runs every few hundred requests under load, and each cycle's
// fixed costs (stopping the world, scanning every goroutine's stack, waking
// its workers) are paid that often. At 200 it runs half as often: measured
// on this project's load bench (docs/performance.md), 6-7% less CPU per
// request for about 3 MB more resident memory; 400 saved a little more for
// 9 MB more. The 1 GiB PUT's peak RSS does not change: streaming allocates
// almost nothing. GOMEMLIMIT, when set, still bounds the heap.
const gcPercent = 200

// tuneGC sets the collector's target to gcPercent unless the operator chose
// one with GOGC, and reports whether it did. restore puts back the previous
// target (serve is also run in-process by the tests).
func tuneGC(lookupEnv func(string) (string, bool)) (restore func(), tuned bool) {
	if v, ok := lookupEnv("GOGC"); ok && v != "" {
		return func() {}, false
	}
	prev := debug.SetGCPercent(gcPercent)
	return func() { debug.SetGCPercent(prev) }, true
}
