package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestInstallToolsScript runs scripts/install-tools.sh --only wrk against
// stub id, sudo and apt-get on a PATH that has no wrk: it must wait for an
// apt lock instead of failing, and where it cannot install, say what to
// install and let the tests skip (exit 0), unless SIGNWAY_E2E=require.
func TestInstallToolsScript(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a bash script")
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "install-tools.sh")

	// apt-get answers "lock held" to update until $STUB/locked-updates
	// reaches 0 (or always fails with $STUB/update-error), and install
	// creates an executable wrk.
	const aptGet = `#!/bin/sh
echo "$*" >> "$STUB/apt-calls"
case "$*" in
*" update"*)
	if [ -f "$STUB/update-error" ]; then echo "E: Failed to fetch: network unreachable" >&2; exit 100; fi
	n=$(cat "$STUB/locked-updates" 2>/dev/null || echo 0)
	if [ "$n" -gt 0 ]; then
		echo $((n - 1)) > "$STUB/locked-updates"
		echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
		exit 100
	fi ;;
*" install "*)
	case "$*" in *DPkg::Lock::Timeout=*) ;; *) echo "no lock timeout" >&2; exit 1 ;; esac
	printf '#!/bin/sh\n' > "$STUB/wrk"; chmod +x "$STUB/wrk" ;;
esac
`
	tests := []struct {
		name      string
		uid       string
		sudo      bool // a passwordless sudo
		apt       bool // Debian
		locked    int  // apt-get update finds the lock held this many times
		updateErr bool // apt-get update fails for another reason
		require   bool // SIGNWAY_E2E=require
		wantExit  int
		wantOut   []string
		wantCalls int // apt-get update calls, -1: do not check
	}{
		{name: "root on Debian, apt lock held twice", uid: "0", apt: true, locked: 2, wantExit: 0,
			wantOut: []string{"apt lock held by another process; waiting", "apt-get install wrk", "wrk installed at", "all tools present"}, wantCalls: 3},
		{name: "passwordless sudo", uid: "1000", sudo: true, apt: true, wantExit: 0,
			wantOut: []string{"installing wrk from Debian (wrk)", "all tools present"}, wantCalls: 1},
		{name: "not root, no sudo", uid: "1000", apt: true, wantExit: 0,
			wantOut: []string{"MISSING: wrk: install Debian's wrk package", "the tests that need them skip"}, wantCalls: 0},
		{name: "not Debian", uid: "0", wantExit: 0,
			wantOut: []string{"MISSING: wrk: install Debian's wrk package (or your system's equivalent)"}, wantCalls: -1},
		{name: "not root, CI requires every tool", uid: "1000", apt: true, require: true, wantExit: 1,
			wantOut: []string{"MISSING: wrk", "SIGNWAY_E2E=require"}, wantCalls: 0},
		{name: "update fails without a lock: no waiting", uid: "0", apt: true, updateErr: true, wantExit: 0,
			wantOut: []string{"network unreachable", "apt-get update failed", "MISSING: wrk: apt-get install wrk failed"}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stub := t.TempDir()
			// Only what the script runs, so that the machine's own wrk,
			// sudo or apt-get cannot be found.
			for _, tool := range []string{"bash", "sh", "sed", "grep", "tr", "sleep", "env", "cut", "awk", "cat", "chmod", "true", "go"} {
				p, err := exec.LookPath(tool)
				if err != nil {
					t.Skipf("%s is not on PATH", tool)
				}
				if err := os.Symlink(p, filepath.Join(stub, tool)); err != nil {
					t.Fatal(err)
				}
			}
			write := func(name, content string) {
				if err := os.WriteFile(filepath.Join(stub, name), []byte(content), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write("id", "#!/bin/sh\necho "+tt.uid+"\n")
			if tt.sudo {
				write("sudo", "#!/bin/sh\n[ \"$1\" = -n ] && shift\nexec env \"$@\"\n") // sudo takes VAR=value as env does
			}
			if tt.apt {
				write("apt-get", aptGet)
			}
			if tt.locked > 0 {
				write("locked-updates", strconv.Itoa(tt.locked)+"\n")
			}
			if tt.updateErr {
				write("update-error", "")
			}
			cmd := exec.Command("bash", script, "--only", "wrk")
			cmd.Env = []string{"PATH=" + stub, "STUB=" + stub, "HOME=" + t.TempDir(), "APT_RETRY_INTERVAL=0"}
			if tt.require {
				cmd.Env = append(cmd.Env, "SIGNWAY_E2E=require")
			}
			out, err := cmd.CombinedOutput()
			exit := 0
			if ee, ok := err.(*exec.ExitError); ok {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tt.wantExit {
				t.Errorf("exit %d, want %d:\n%s", exit, tt.wantExit, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.wantCalls >= 0 {
				calls, _ := os.ReadFile(filepath.Join(stub, "apt-calls"))
				if n := strings.Count(string(calls), " update"); n != tt.wantCalls {
					t.Errorf("apt-get update ran %d times, want %d:\n%s", n, tt.wantCalls, calls)
				}
			}
		})
	}
}
