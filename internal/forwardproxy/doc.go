// Package forwardproxy is signway as an HTTPS_PROXY: the credential broker
// for clients that cannot be pointed at another endpoint. It owns the CA
// that mints a short-lived leaf certificate for each intercepted host, the
// CONNECT tunnel in which signway terminates TLS and serves the client's
// requests (HTTP/1.1 keep-alive or HTTP/2 by ALPN) through the gateway's
// host rules, absolute-form requests, and the blind tunnel for hosts not
// on the allowlist when the configuration allows one.
//
// What happens to each request inside a tunnel (caller authentication,
// signing, the upstream) is the gateway's handler: this package only
// decides which host a tunnel is for and whether to open it.
package forwardproxy
