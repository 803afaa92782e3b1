// Package gateway assembles a running signway from a config: it turns each
// config generation into a proxy routing table, keeps what must outlive a
// generation (upstream transports with their connection pools, credential
// caches) in reference-counted pools keyed by their settings, answers
// readiness from the last known credential state, and reloads a config file
// and TLS certificates when they change. It also wraps the handler in
// tracing and the access log (Observe), makes the listener's TLS
// (ListenerTLS) and answers `signway credentials check` (CheckCredentials).
//
// cmd/signway owns flags, subcommands, signals and listeners; everything
// between a *config.Config and an http.Handler lives here.
package gateway
