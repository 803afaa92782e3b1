package cliflag

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestParseAndPrint(t *testing.T) {
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("signway x", flag.ContinueOnError)
		fs.String("forward-to", "", "`URL` to forward to")
		fs.String("f", "", "short for --forward-to")
		fs.Bool("once", false, "exit after one")
		return fs
	}
	var out bytes.Buffer
	if help, err := Parse(newFS(), []string{"-h"}, &out, "Usage: x\n"); !help || err != nil {
		t.Fatalf("-h: help %v, err %v", help, err)
	}
	if got := out.String(); !strings.HasPrefix(got, "Usage: x\n") || !strings.Contains(got, "-f, --forward-to URL") || strings.Contains(got, "short for") {
		t.Errorf("help:\n%s", got)
	}
	fs := newFS()
	_, err := Parse(fs, []string{"--nope"}, &out, "")
	var u *UsageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "provided but not defined: --nope (signway x --help lists the flags)") {
		t.Errorf("unknown flag: %v", err)
	}
	fs = newFS()
	if _, err := Parse(fs, []string{"-f", "https://h"}, &out, ""); err != nil || LongName(fs, fs.Lookup("f")) != "forward-to" {
		t.Errorf("-f: err %v, long name %q", err, LongName(fs, fs.Lookup("f")))
	}
}
