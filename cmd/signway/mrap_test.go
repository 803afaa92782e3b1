package main

import (
	"io"
	"slices"
	"testing"

	"github.com/signway/signway/internal/config"
)

// TestMultiRegionAccessPointFlags: --forward-to a Multi-Region Access Point
// is signed as the same URL in a config file is, SigV4A over every region.
func TestMultiRegionAccessPointFlags(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	o, err := parseFlags([]string{"--forward-to", "https://mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Routes[0].Settings
	if s.Service != "s3" || s.Signing.Algorithm != config.SigV4A || !slices.Equal(s.Signing.RegionSet, []string{"*"}) {
		t.Errorf("service %q algorithm %q region set %q, want s3 sigv4a [*]", s.Service, s.Signing.Algorithm, s.Signing.RegionSet)
	}
}
