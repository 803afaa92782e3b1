// Package faults is signway's fault-injection suite, in its tests: a real
// S3 (versitygw) behind a TCP fault injector that resets, hangs and slows
// connections, an STS that is down or slow, credentials that rotate, routes
// reloaded under load and callers that abort at every stage. Each scenario
// runs under concurrent load and asserts that no request that should have
// succeeded failed, that nothing truncated was stored, and that no
// goroutine, file descriptor, spooled body or memory is left behind.
//
// `make faults` runs the short version (part of the ordinary tests);
// `make soak` runs each scenario for SIGNWAY_SOAK (a duration) and reports
// its figures.
package faults
