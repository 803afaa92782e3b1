// Package config owns signway's configuration file: its schema (the structs
// in this package, whose field comments are the user documentation), the
// defaults, ${VAR} expansion, validation and loading.
//
// Load and Parse read YAML, expand environment variables, reject unknown keys
// and validate; every problem is reported at once as a *ProblemsError, each
// naming its field path and YAML line, so a user fixes a file in one pass.
// The structs are plain values whose zero values mean "the default", so the
// command line can build a one-route Config directly and go through the same
// Validate and WithDefaults as a file.
//
// Secrets (static AWS keys) are Secret values: only references to an
// environment variable or a file are accepted in a file, and a Secret never
// prints, logs or marshals its value.
package config
