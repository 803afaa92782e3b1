package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signway/signway/internal/cliflag"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "signway.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateOK(t *testing.T) {
	t.Setenv("UPSTREAM", "https://abc.execute-api.eu-west-1.amazonaws.com")
	p := writeConfig(t, `routes:
  - name: api
    url: ${UPSTREAM}
  - name: bucket
    match: {path: /cake.json}
    url: https://b.s3.us-east-1.amazonaws.com
hosts:
  - host: "*.s3.us-east-1.amazonaws.com"
`)
	var out, errb bytes.Buffer
	if err := runValidate(context.Background(), []string{"--config", p}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := out.String(); got != "config OK: 2 routes, 1 allowed host\n" {
		t.Errorf("stdout = %q", got)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	p := writeConfig(t, `routes:
  - name: api
    url: https://api.internal.example
    payload: fast
    colour: blue
  - name: api
    url: https://b.s3.us-east-1.amazonaws.com
    match: {path: /x}
`)
	var out, errb bytes.Buffer
	err := runValidate(context.Background(), []string{"--config", p}, &out, &errb)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "5 problems") {
		t.Fatalf("err = %v (exit %d)", err, exitCode(err))
	}
	want := p + `: 5 problems
  routes[0].service (line 2): required: the upstream host "api.internal.example" does not name a service (e.g. service: execute-api)
  routes[0].region (line 2): required when the upstream host "api.internal.example" does not name a region
  routes[0].payload (line 4): "fast" is not one of auto, unsigned, signed, streaming
  routes[0].colour (line 5): unknown key "colour"
  routes[1].name (line 6): "api" is already the name of routes[0] (line 2)
`
	if got := out.String(); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--config"}, {"--config", "a", "b"}, {"--nope"}} {
		var out, errb bytes.Buffer
		err := runValidate(context.Background(), args, &out, &errb)
		var u *cliflag.UsageError
		if !errors.As(err, &u) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
	var out, errb bytes.Buffer
	if err := runValidate(context.Background(), []string{"-h"}, &out, &errb); err != nil || !strings.Contains(out.String(), "signway validate --config FILE") {
		t.Errorf("-h: %v %q", err, out.String())
	}
	err := runValidate(context.Background(), []string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errb)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestValidateExamples(t *testing.T) {
	for k, v := range map[string]string{
		"ORDERS_FUNCTION_HOST": "abc.lambda-url.us-east-2.on.aws", "PAYMENTS_EXTERNAL_ID": "x-1234",
		"DYNAMODB_ACCESS_KEY_ID": "AKID", "DYNAMODB_SECRET_ACCESS_KEY": "secret",
		"AGENT7_SECRET": "a7", "CI_SECRET": "ci", "REPORTING_API_KEY": "rk",
	} {
		t.Setenv(k, v)
	}
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		var out, errb bytes.Buffer
		if err := runValidate(context.Background(), []string{"--config", f}, &out, &errb); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out.String())
		}
	}
}
