//go:build unix && !linux

package testenv

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in its own process group so cleanup can kill
// what it spawned; there is no parent-death signal outside Linux.
func setProcAttrs(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}
