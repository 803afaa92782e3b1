package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a component may take to answer. moto_server
// imports most of botocore at start, which takes a few seconds on a loaded
// 2-core machine running the race detector.
const startTimeout = 60 * time.Second

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that FreePort has not returned before in this process. The kernel picks
// it, so parallel tests don't collide; it may pick a port it just gave out
// again once that one is closed, and a test that asks for two ports before
// listening on either (a config with two addresses) then got the same one
// twice. The small window between closing and reuse by another process is
// acceptable for tests.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: finding a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		givenMu.Lock()
		seen := given[port]
		given[port] = true
		givenMu.Unlock()
		if !seen {
			return port
		}
	}
	t.Fatal("testenv: the kernel offered only ports already given out")
	return 0
}

var (
	givenMu sync.Mutex
	given   = map[int]bool{}
)

// Process is a component started by StartProcess.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	out  *LockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done is closed
}

// Output returns what the process has written to stdout and stderr so far
// (when StartProcess captured them), for failure messages.
func (p *Process) Output() string {
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

// Exited reports whether the process has already exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// StartProcess starts cmd, calls ready until it returns nil, and stops the
// process (and anything it spawned) in t.Cleanup. It fails the test if the
// process exits or does not become ready within a minute; the failure shows
// the process's output. Stdout and stderr are captured unless cmd sets them.
//
// The process gets its own process group, so cleanup can kill children it
// forked, and on Linux a parent-death signal, so a test binary killed by
// `go test -timeout` does not leave servers behind.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd, ready func() error) *Process {
	t.Helper()
	p := &Process{Name: name, Cmd: cmd, done: make(chan struct{})}
	if cmd.Stdout == nil && cmd.Stderr == nil {
		p.out = &LockedBuffer{}
		cmd.Stdout, cmd.Stderr = p.out, p.out
	}
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: starting %s (%s): %v", name, cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)

	deadline := time.Now().Add(startTimeout)
	for {
		err := ready()
		if err == nil {
			return p
		}
		if p.Exited() {
			t.Fatalf("testenv: %s exited before it was ready (%v); last check: %v\noutput:\n%s", name, p.err, err, p.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s not ready after %v: %v\noutput:\n%s", name, startTimeout, err, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop asks the whole process group to terminate and kills it if it has not
// exited after a grace period; servers that flush state on SIGTERM get the
// chance, hung ones don't stall the test run.
func (p *Process) stop() {
	if p.Exited() {
		return
	}
	pgid := p.Cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Children that ignored SIGTERM may outlive the leader.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// HTTPReady returns a readiness check that succeeds once url answers any
// HTTP response at all: an S3 server answers 403 to an unsigned request,
// which still proves it is listening and parsing HTTP.
func HTTPReady(url string) func() error {
	client := &http.Client{Timeout: 2 * time.Second}
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
}

// TCPReady returns a readiness check that succeeds once addr accepts a
// TCP connection.
func TCPReady(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// LockedBuffer is a bytes.Buffer safe for concurrent writers and a reader:
// the exec package's copying goroutines or a logger write while a test
// reads. It keeps the last MiB.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Keep memory bounded for chatty servers: only the tail matters.
	const max = 1 << 20
	if b.buf.Len()+len(p) > max {
		keep := b.buf.Bytes()[b.buf.Len()/2:]
		rest := append([]byte(nil), keep...)
		b.buf.Reset()
		b.buf.WriteString("...[truncated]...\n")
		b.buf.Write(rest)
	}
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var errNotFound = errors.New("not found")

// notFound wraps errNotFound with where we looked and how to install.
func notFound(name, looked, install string) error {
	return fmt.Errorf("%s %w (looked in %s); install: %s", name, errNotFound, looked, install)
}
