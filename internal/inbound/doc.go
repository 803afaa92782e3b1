// Package inbound owns "who is the caller?": the first step of every request
// on a route that authenticates, before anything is signed or sent upstream.
//
// A Callers set is built from the config's callers block once per config
// generation (a reload builds a new one, so a revoked key stops working at
// once). An Authenticator is built per route from its auth block; it admits a
// caller by one of the route's methods (an API key in a header, a request
// signed with a signway-issued SigV4 key pair, a JWT checked against a JWKS,
// a verified TLS client certificate), checks the route's allow list and the
// caller's rate limit, and puts the Caller into the request's context for
// the credentials lookup, the access log and the metrics. A refusal is a
// typed *Error answered as 401 (with WWW-Authenticate), 403 or 429 (with
// Retry-After), in S3's XML for S3 routes and SigV4 callers, so SDKs report
// it as they would AWS's own answer. Messages say what was wrong without
// telling which keys or callers exist, and never contain a secret.
//
// On the TLS side, AskClientCertificates makes the listener ask for (and
// verify) the client certificates that mtls callers present.
//
// What must outlive a reload (token buckets, JWKS caches) lives in pools
// the gateway keeps: Limiters and KeySets.
package inbound
