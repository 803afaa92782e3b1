package testenv

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in its own process group and has the kernel
// kill it when the test binary dies. Pdeathsig is tied to the OS thread that
// forked the child; Go only retires threads of goroutines that exit while
// locked to their thread, which the tests don't do.
func setProcAttrs(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
