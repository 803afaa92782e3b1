package main

import (
	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/credentials"
)

// instrumentCreds makes spec's caches report refreshes and expiry, and its
// STS calls (a web identity token file, assume-role hops, per-caller web
// identity) their latency.
func instrumentCreds(spec credSpec, m *admin.Metrics) credSpec {
	if m == nil {
		return spec
	}
	spec.metrics = m
	spec.source.STSMetrics = m
	chain := make([]credentials.AssumeRoleOptions, len(spec.chain))
	for i, hop := range spec.chain {
		hop.STSMetrics = m
		chain[i] = hop
	}
	spec.chain = chain
	if spec.caller != nil {
		c := *spec.caller
		c.STSMetrics = m
		spec.caller = &c
	}
	return spec
}
