package inbound

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user and system CPU time. On a machine shared
// with other work the wall time per operation swings with the load; the
// CPU time a benchmark's process spent per operation does not, so the
// benchmarks report it too (cpu-ns/op), and the figures in
// docs/performance.md are those.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopCPU runs f b.N times and reports the CPU time per call.
func loopCPU(b *testing.B, f func()) {
	b.ReportAllocs()
	start := cpuTime()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	}
}
