package testenv

import (
	"errors"
	"strings"
	"testing"
)

func TestRequireSkipsOrFails(t *testing.T) {
	for _, tc := range []struct {
		env      string
		wantSkip bool
	}{{"", true}, {"require", false}} {
		t.Setenv(E2EEnv, tc.env)
		ft := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Require(ft, "widget", errors.New("widget not found; install: apt-get install widget"))
		}()
		<-done
		if got := strings.HasPrefix(ft.msg, "SKIP: "); got != tc.wantSkip {
			t.Errorf("%s=%q: skipped=%v, want %v (%q)", E2EEnv, tc.env, got, tc.wantSkip, ft.msg)
		}
		if !strings.Contains(ft.msg, "widget is not available") || !strings.Contains(ft.msg, "apt-get install widget") {
			t.Errorf("message does not name the component and its install: %q", ft.msg)
		}
	}
	Require(t, "nothing", nil) // a nil error must not stop the test
}
