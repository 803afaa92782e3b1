package testenv

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// Python returns the path of a python3 that imports every one of modules
// (boto3 as a real S3 client, botocore as the reference signer), or
// skips/fails the test through Require.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	path, err := findPython(modules)
	Require(t, "python3 with "+strings.Join(modules, ", "), err)
	return path
}

func findPython(modules []string) (string, error) {
	path, err := exec.LookPath("python3")
	if err != nil {
		return "", fmt.Errorf("python3: %w", err)
	}
	if out, err := exec.Command(path, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s cannot import %s (%v): %s; they come with the machine's Python (pip packages %s)",
			path, strings.Join(modules, ", "), err, strings.TrimSpace(string(out)), strings.Join(modules, " "))
	}
	return path, nil
}
