package credentials

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// startMoto runs moto's server (a real STS implementation) on a free
// loopback port for the duration of t and returns its URL. Without
// moto_server on PATH the test is skipped, or fails when SIGNWAY_E2E=require
// so that CI cannot pass by skipping.
//
// This stays local to the package until internal/testenv offers the same.
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		const msg = "moto_server not found on PATH (pip install 'moto[server]'); AssumeRole against a real STS not tested"
		if os.Getenv("SIGNWAY_E2E") == "require" {
			t.Fatal(msg + " and SIGNWAY_E2E=require")
		}
		t.Skip(msg)
	}

	port := freePort(t)
	logPath := filepath.Join(t.TempDir(), "moto.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting moto_server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// Kill, not a signal to stop: moto takes seconds to shut down.
		_ = cmd.Process.Kill()
		<-exited
		logFile.Close()
	})

	url := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := client.Get(url + "/"); err == nil {
			resp.Body.Close()
			return url
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			log, _ := os.ReadFile(logPath)
			t.Fatalf("moto_server exited before answering (%v):\n%s", err, log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("moto_server did not answer on %s within 60s:\n%s", url, log)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// callerARN asks STS at endpoint who creds belong to: proof that STS
// recognises credentials it issued.
func callerARN(t *testing.T, endpoint string, creds Credentials) string {
	t.Helper()
	client := sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  ToAWS(Static(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)),
	})
	out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	return aws.ToString(out.Arn)
}
