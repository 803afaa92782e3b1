package testenv

import (
	"context"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// goBinDirs lists where `go install` puts binaries: $GOBIN, else the bin
// directory of each GOPATH entry. Tests often run with a PATH that lacks
// them (CI adds them; an IDE may not).
func goBinDirs() []string {
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		return []string{gobin}
	}
	var dirs []string
	for _, p := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	return dirs
}

// lookGoTool finds a binary installed by `go install`, in PATH first.
func lookGoTool(name, install string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs := goBinDirs()
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", notFound(name, "PATH and "+strings.Join(dirs, ", "), install)
}

// toolVersion runs `path args...` and returns its trimmed combined output.
// It also proves the tool runs: pyenv shims exist on PATH for commands
// that the selected Python lacks, and fail only when run.
func toolVersion(path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return s, fmt.Errorf("running %s %s: %w: %s", path, strings.Join(args, " "), err, s)
	}
	return s, nil
}
