package testenv

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestVersitygwVerifiesSignatures(t *testing.T) {
	s3 := Versitygw(t)
	s3.CreateBucket(t, "testenv-bucket")

	body := []byte("hello from testenv\n")
	if status, resp := s3.Do(t, http.MethodPut, "/testenv-bucket/dir/obj.txt", body); status != http.StatusOK {
		t.Fatalf("PUT object: status %d: %s", status, resp)
	}
	status, got := s3.Do(t, http.MethodGet, "/testenv-bucket/dir/obj.txt", nil)
	if status != http.StatusOK || !bytes.Equal(got, body) {
		t.Fatalf("GET object: status %d, body %q, want 200 %q", status, got, body)
	}

	// The same request signed with a wrong secret must be refused, or the
	// server would prove nothing about signatures.
	req, err := http.NewRequest(http.MethodGet, s3.Endpoint+"/testenv-bucket/dir/obj.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignSDK(req, s3.AccessKeyID, s3.SecretAccessKey+"x", "s3", s3.Region, PayloadHash(nil)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(msg), "SignatureDoesNotMatch") {
		t.Fatalf("wrong secret: status %d body %s, want 403 SignatureDoesNotMatch", resp.StatusCode, msg)
	}
}

func TestVersitygwStopsOnCleanup(t *testing.T) {
	var s3 *S3
	if !t.Run("inner", func(t *testing.T) { s3 = Versitygw(t) }) || s3 == nil {
		t.Skip("versitygw did not start (see the subtest)")
	}
	if !s3.Process.Exited() {
		t.Fatal("versitygw still running after its test's cleanup")
	}
	if err := TCPReady(strings.TrimPrefix(s3.Endpoint, "http://"))(); err == nil {
		t.Fatal("versitygw port still accepts connections after cleanup")
	}
}

func TestMotoAnswersSTS(t *testing.T) {
	m := Moto(t)
	form := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode()
	req, err := http.NewRequest(http.MethodPost, m.Endpoint+"/", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// moto routes by the service in the credential scope, so sign for sts.
	if err := SignSDK(req, m.AccessKeyID, m.SecretAccessKey, "sts", m.Region, PayloadHash([]byte(form))); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<Account>") {
		t.Fatalf("GetCallerIdentity: status %d body %s", resp.StatusCode, body)
	}
}

func TestAWSCLIRuns(t *testing.T) {
	aws := AWSCLI(t)
	out, err := exec.Command(aws, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "aws-cli/1.") {
		t.Fatalf("%s --version: %v: %s", aws, err, out)
	}
}

func TestStartProcessReportsEarlyExit(t *testing.T) {
	// StartProcess must fail (not hang for a minute) when the process dies
	// first; run it in a fake TB to observe the failure.
	ft := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		StartProcess(ft, "false", exec.Command("false"), func() error { return io.EOF })
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("StartProcess did not notice the process exited")
	}
	if !strings.Contains(ft.msg, "exited before it was ready") {
		t.Fatalf("failure message %q", ft.msg)
	}
	ft.runCleanups()
}

func TestFreePortIsBindable(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("port %d", p)
	}
}

func TestAWSCLIv2LookupExplainsAbsence(t *testing.T) {
	// Debian's v2 may be absent (install-tools only installs it with
	// --awscli-v2); calling AWSCLIv2 here would fail CI under
	// SIGNWAY_E2E=require, so check the lookup behind it instead.
	path, err := findAWSCLIv2()
	if err == nil {
		if path != debianAWSCLIv2 {
			t.Fatalf("found %q, want %s", path, debianAWSCLIv2)
		}
		return
	}
	if !strings.Contains(err.Error(), debianAWSCLIv2) || !strings.Contains(err.Error(), "apt-get install") {
		t.Fatalf("error does not say where it looked and how to install: %v", err)
	}
}
