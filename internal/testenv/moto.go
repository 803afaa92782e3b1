package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
)

// MotoServer is a running moto_server: an in-memory AWS (STS, IAM, S3, ...) that
// accepts any credentials and does not verify signatures, so it tests what
// signway sends (actions, role ARNs, tokens), not whether it signed right.
type MotoServer struct {
	Endpoint        string // http://127.0.0.1:PORT
	Region          string
	AccessKeyID     string // any value works; these are conventional
	SecretAccessKey string
	Process         *Process
}

// findMotoServer is checked once per test binary: running it costs about a
// second (it imports botocore), and a pyenv shim can be on PATH for a
// Python that does not have moto.
var findMotoServer = sync.OnceValues(func() (string, error) {
	path, err := exec.LookPath("moto_server")
	if err != nil {
		return "", fmt.Errorf("moto_server: %w; it comes with the machine's Python (pip package moto[server])", err)
	}
	if _, err := toolVersion(path, "--help"); err != nil {
		return "", err
	}
	return path, nil
})

// Moto starts moto_server on a free port and stops it when the test ends.
// (The type is MotoServer because Go does not allow a function and a type
// of the same name.)
func Moto(t testing.TB) *MotoServer {
	t.Helper()
	bin, err := findMotoServer()
	Require(t, "moto_server (AWS mock)", err)
	port := FreePort(t)
	m := &MotoServer{
		Endpoint:        "http://127.0.0.1:" + strconv.Itoa(port),
		Region:          "us-east-1",
		AccessKeyID:     "testing",
		SecretAccessKey: "testing",
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// Keep the server from reading a developer's real AWS setup.
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+m.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+m.SecretAccessKey,
		"AWS_DEFAULT_REGION="+m.Region,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	m.Process = StartProcess(t, "moto_server", cmd, HTTPReady(m.Endpoint+"/moto-api/"))
	return m
}
