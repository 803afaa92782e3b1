package main

import (
	"runtime/debug"
	"testing"
)

// currentGCPercent reads the collector's target (the runtime only reports
// it by swapping).
func currentGCPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int // the target while serving
	}{
		{"GOGC unset takes signway's default", nil, gcPercent},
		{"GOGC set empty is unset, as for the runtime", map[string]string{"GOGC": ""}, gcPercent},
		{"GOGC set is the operator's", map[string]string{"GOGC": "50"}, 50},
		{"GOGC=off is the operator's", map[string]string{"GOGC": "off"}, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The runtime read the process's GOGC at start; stand in for
			// an operator's value by setting it the same way.
			before := debug.SetGCPercent(50)
			defer debug.SetGCPercent(before)
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			restore, tuned := tuneGC(lookup)
			if got := currentGCPercent(); got != tc.want {
				t.Errorf("while serving the GC percent is %d, want %d", got, tc.want)
			}
			if tuned != (tc.want == gcPercent) {
				t.Errorf("tuneGC reported tuned=%v with GOGC %v", tuned, tc.env)
			}
			restore()
			if got := currentGCPercent(); got != 50 {
				t.Errorf("after restore the GC percent is %d, want the previous 50", got)
			}
		})
	}
}
