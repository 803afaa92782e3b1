// Package authz is signing as a service for gateways that already proxy
// the traffic: Envoy, Istio, Gloo and kgateway through ext_authz (gRPC or
// HTTP), nginx through auth_request, Traefik through ForwardAuth and Caddy
// through forward_auth. It owns the two wire forms of "may this request go
// on, and with which headers?": reading the original request out of a
// check request, and writing the answer back in the form each gateway
// copies onto the request it sends upstream; and the listeners that serve
// them ([Listen]).
//
// What the answer is comes from a [Decider] (the gateway's routes, caller
// authentication and signing): this package never signs, and a route
// answers here exactly as it would in proxy mode.
package authz
