package testenv

import (
	"fmt"
	"runtime"
	"testing"
)

// fakeTB records a Fatalf instead of failing the real test, so the helpers'
// failure paths can be tested.
type fakeTB struct {
	testing.TB
	msg      string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.msg = "SKIP: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}
