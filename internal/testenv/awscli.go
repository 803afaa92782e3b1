package testenv

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// debianAWSCLIv2 is where Debian's awscli package (version 2) installs aws.
const debianAWSCLIv2 = "/usr/bin/aws"

// AWSCLI returns the path of an AWS CLI version 1 (the one that comes with
// this machine's Python, next to botocore and moto), or skips/fails the
// test through Require.
func AWSCLI(t testing.TB) string {
	t.Helper()
	path, err := findAWSCLIv1()
	Require(t, "AWS CLI v1 (aws)", err)
	return path
}

// AWSCLIv2 returns the path of Debian's AWS CLI version 2 at /usr/bin/aws,
// or skips/fails the test through Require.
func AWSCLIv2(t testing.TB) string {
	t.Helper()
	path, err := findAWSCLIv2()
	Require(t, "AWS CLI v2 ("+debianAWSCLIv2+")", err)
	return path
}

// The CLI takes a second or more to print its version (it is Python), so
// each is checked once per test binary.
var (
	findAWSCLIv1 = sync.OnceValues(func() (string, error) { return findAWSCLI("aws", "aws-cli/1.") })
	findAWSCLIv2 = sync.OnceValues(func() (string, error) { return findAWSCLI(debianAWSCLIv2, "aws-cli/2.") })
)

func findAWSCLI(name, wantPrefix string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w; v1 comes with the machine's Python (pip package awscli), v2 with `apt-get install -y awscli`", name, err)
	}
	v, err := toolVersion(path, "--version")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(v, wantPrefix) {
		return "", fmt.Errorf("%s is %q, want %s*", path, v, wantPrefix)
	}
	return path, nil
}
