package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// launcher starts the proxies under test, each pointed at the origin.
type launcher struct {
	self       string // this binary, which serves the bare proxy
	signwayBin string
	originURL  string
	upstream   upstream // what kind of origin originURL is
	logDir     string
}

// start starts a fresh proxy of kind ("bare", "bare-pooled", "bare-signing",
// "bare-sdk-signing" or "signway") and returns it with the base URL clients
// should use.
func (l launcher) start(ctx context.Context, kind, label string) (*child, string, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	base := "http://" + listen
	ready := base + "/loadbench-ready"
	switch kind {
	case "bare", "bare-pooled", "bare-signing", "bare-sdk-signing":
		args := []string{"bareproxy", "-listen", listen, "-target", l.originURL, "-buffer-pool=" + strconv.FormatBool(kind != "bare"),
			"-insecure=" + strconv.FormatBool(l.upstream.tls)}
		switch kind {
		case "bare-signing":
			args = append(args, "-sign", l.service()+"/us-east-1", "-signer", "signway")
		case "bare-sdk-signing":
			args = append(args, "-sign", l.service()+"/us-east-1", "-signer", "sdk")
		}
		c, err := startChild(ctx, label, l.logDir, ready, os.Environ(), l.self, args...)
		return c, base, err
	case "signway", "signway-streaming":
		utility, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		args := []string{"--listen-on", listen, "--utility-port", utility}
		if l.upstream.tls {
			args = append(args, "--no-verify-ssl")
		}
		args = append(args, "--forward-to", l.originURL, "--service", l.service(), "--region", "us-east-1")
		if kind == "signway-streaming" {
			args = append(args, "--payload", "streaming")
		}
		c, err := startChild(ctx, label, l.logDir, ready, signwayEnv(), l.signwayBin, args...)
		return c, base, err
	}
	return nil, "", fmt.Errorf("unknown proxy kind %q", kind)
}

// service is what the signing proxies sign for: S3 over plain HTTP, as
// before; over TLS one whose real endpoints speak HTTP/2 (API Gateway), as
// issue 15 measured.
func (l launcher) service() string {
	if l.upstream.tls {
		return "execute-api"
	}
	return "s3"
}

// signwayEnv gives signway fixed dummy credentials and keeps it away from
// the machine's AWS setup (profiles, IMDS), so the run measures signing,
// not credential discovery, and cannot pick up real keys.
func signwayEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID=AKIDLOADBENCHEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=loadbench/dummy/secret/not/a/real/key",
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true")
}
