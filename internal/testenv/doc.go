// Package testenv starts the real external components the tests use.
//
// Tests that talk to a real S3 server (versitygw), a real STS/AWS mock (moto)
// or a real AWS CLI call the helpers here. Each helper either returns a
// running component, bound to 127.0.0.1 on a free port and stopped in
// t.Cleanup, or skips the test naming what is missing and how to install it.
// With SIGNWAY_E2E=require (as CI sets it) a missing component fails the test
// instead, so CI cannot go green by skipping everything.
package testenv
