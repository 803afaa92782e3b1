package testenv

import (
	"os/exec"
	"strconv"
	"testing"
)

// Redis is a redis-server started by StartRedis.
type Redis struct {
	Addr    string // 127.0.0.1:PORT
	URL     string // redis://127.0.0.1:PORT
	Process *Process
}

// StartRedis starts Debian's redis-server on a loopback port, with nothing
// persisted, and stops it when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		err = notFound("redis-server", "PATH", "apt-get install redis-server (scripts/install-tools.sh does)")
	}
	Require(t, "redis-server", err)
	port := strconv.Itoa(FreePort(t))
	r := &Redis{Addr: "127.0.0.1:" + port, URL: "redis://127.0.0.1:" + port}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--protected-mode", "yes")
	r.Process = StartProcess(t, "redis-server", cmd, TCPReady(r.Addr))
	return r
}

// Stop ends the server now, so a test can see what happens without it.
func (r *Redis) Stop() { r.Process.stop() }
