package testenv

import (
	"os"
	"testing"
)

// E2EEnv is the environment variable that turns a missing component from a
// skip into a failure. CI sets it to "require".
const E2EEnv = "SIGNWAY_E2E"

// Require reports that the component what is unavailable because of err.
// It skips the test, or fails it when SIGNWAY_E2E=require, so a machine that
// lacks a tool still runs the rest of the suite but CI never hides the gap.
// It does nothing when err is nil.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := what + " is not available: " + err.Error() + "\n\tinstall it with: scripts/install-tools.sh (or `make test`, which runs it)"
	if os.Getenv(E2EEnv) == "require" {
		t.Fatalf("%s\n\t%s=require, so this is a failure, not a skip", msg, E2EEnv)
	}
	t.Skipf("%s\n\tset %s=require to make this a failure", msg, E2EEnv)
}
