package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Signing as a service (issue 10): one signway, one route, answering the
// same GET three ways under the same load, and the CPU each costs it:
// signing and proxying it (proxy), the HTTP check endpoint as nginx or
// Traefik ask it (http-check), and Envoy's ext_authz Check over gRPC
// (grpc-check). Only signway's CPU is counted, so the clients' own costs
// (wrk, the gRPC driver here) do not enter the ratios.

// checkForms are the three ways, in the order of a round.
var checkForms = []string{"proxy", "http-check", "grpc-check"}

// checkSample is one measured run of one form.
type checkSample struct {
	form      string
	requests  int64
	failed    int64
	reqPerSec float64
	cpuPerReq time.Duration
}

// checkResult is every sample of the checks measurement.
type checkResult struct {
	samples []checkSample
	err     error
}

// grpcConns is how many HTTP/2 connections the gRPC driver spreads its
// callers over: Envoy keeps a few to an ext_authz cluster, not one per
// request.
const grpcConns = 2

// measureChecks starts signway with a config that opens both authz
// listeners in front of the plain origin, and measures each form per round.
func measureChecks(ctx context.Context, cfg config, l launcher, tmp string) checkResult {
	var addrs [4]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return checkResult{err: err}
		}
		addrs[i] = a
	}
	listen, utility, httpAuthz, grpcAuthz := addrs[0], addrs[1], addrs[2], addrs[3]
	conf := fmt.Sprintf(`listen: {address: %s}
utility: {address: %s}
authz:
  http_address: %s
  grpc_address: %s
routes:
  - name: data
    url: %s
    service: s3
    region: us-east-1
    credentials: {source: env}
`, listen, utility, httpAuthz, grpcAuthz, l.originURL)
	path := tmp + "/checks.yaml"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return checkResult{err: err}
	}
	sw, err := startChild(ctx, "signway-checks", l.logDir, "http://"+listen+"/loadbench-ready", signwayEnv(), l.signwayBin, "--config", path)
	if err != nil {
		return checkResult{err: err}
	}
	defer sw.stop()

	driver, err := newCheckDriver(grpcAuthz, listen)
	if err != nil {
		return checkResult{err: err}
	}
	defer driver.close()

	const object = "/loadbench-bucket/object-1k"
	run := func(form string, d time.Duration) (requests, failed int64, rate float64, err error) {
		switch form {
		case "proxy":
			w, err := runWrk(ctx, cfg, "http://"+listen+object, d)
			return w.requests, w.non2xx, w.reqPerSec, err
		case "http-check":
			w, err := runWrk(ctx, cfg, "http://"+httpAuthz+"/check", d,
				"X-Forwarded-Method: GET", "X-Forwarded-Uri: "+object, "X-Forwarded-Host: "+listen)
			return w.requests, w.non2xx, w.reqPerSec, err
		default:
			return driver.run(ctx, cfg.connections, d)
		}
	}
	var res checkResult
	for round := 1; round <= cfg.rounds; round++ {
		forms := checkForms
		if round%2 == 0 {
			forms = []string{checkForms[2], checkForms[1], checkForms[0]}
		}
		for _, form := range forms {
			if cfg.warmup > 0 {
				if _, _, _, err := run(form, cfg.warmup); err != nil {
					return checkResult{err: fmt.Errorf("warm-up of %s: %w", form, err)}
				}
			}
			before, err := cpuTime(sw.pid())
			if err != nil {
				return checkResult{err: err}
			}
			n, failed, rate, err := run(form, cfg.duration)
			if err != nil {
				return checkResult{err: fmt.Errorf("%s round %d: %w", form, round, err)}
			}
			after, err := cpuTime(sw.pid())
			if err != nil {
				return checkResult{err: err}
			}
			s := checkSample{form: form, requests: n, failed: failed, reqPerSec: rate}
			if n > 0 {
				s.cpuPerReq = (after - before) / time.Duration(n)
			}
			res.samples = append(res.samples, s)
			logf("checks round %d/%d %-10s %8.0f req/s  %6.1f µs CPU/req  failed %d", round, cfg.rounds, form, rate, micros(s.cpuPerReq), failed)
		}
	}
	return res
}

// checkDriver calls Check as Envoy would, from many goroutines over a few
// connections.
type checkDriver struct {
	conns   []*grpc.ClientConn
	clients []authv3.AuthorizationClient
	req     *authv3.CheckRequest
}

func newCheckDriver(addr, host string) (*checkDriver, error) {
	d := &checkDriver{req: &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1", Method: "GET", Path: "/loadbench-bucket/object-1k", Host: host, Scheme: "http", Protocol: "HTTP/1.1",
			Headers: map[string]string{":authority": host, ":method": "GET", ":path": "/loadbench-bucket/object-1k",
				"user-agent": "loadbench", "accept": "*/*"},
		}},
	}}}
	for range grpcConns {
		c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			d.close()
			return nil, fmt.Errorf("gRPC client for %s: %w", addr, err)
		}
		d.conns = append(d.conns, c)
		d.clients = append(d.clients, authv3.NewAuthorizationClient(c))
	}
	return d, nil
}

// run calls Check from callers goroutines for d and returns the calls
// answered OK, those that were not, and the rate.
func (d *checkDriver) run(ctx context.Context, callers int, dur time.Duration) (ok, failed int64, rate float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var nOK, nFailed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := range callers {
		client := d.clients[i%len(d.clients)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := client.Check(ctx, d.req)
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					firstErr.CompareAndSwap(nil, err)
					nFailed.Add(1)
				case resp.GetOkResponse() == nil:
					firstErr.CompareAndSwap(nil, fmt.Errorf("Check denied: %s", strings.TrimSpace(resp.GetDeniedResponse().GetBody())))
					nFailed.Add(1)
				default:
					nOK.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if e, _ := firstErr.Load().(error); e != nil && nOK.Load() == 0 {
		return 0, nFailed.Load(), 0, e
	}
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return 0, 0, 0, context.Canceled
	}
	return nOK.Load(), nFailed.Load(), float64(nOK.Load()) / elapsed.Seconds(), nil
}

func (d *checkDriver) close() {
	for _, c := range d.conns {
		c.Close()
	}
}

// renderChecks reports each form's median rate and signway CPU per request,
// as a ratio to proxying the same GET (issue 10's goal: at most 1.3x).
func renderChecks(r checkResult) string {
	var b strings.Builder
	b.WriteString("\n### Signing as a service: the same GET proxied, checked over HTTP, checked over gRPC (one signway)\n\n")
	if r.err != nil {
		fmt.Fprintf(&b, "not measured: %s\n", strings.ReplaceAll(r.err.Error(), "|", "\\|"))
		return b.String()
	}
	b.WriteString("| form | req/s | signway CPU µs/req | vs proxy | failed |\n|---|---:|---:|---:|---:|\n")
	cpu := map[string]float64{}
	for _, form := range checkForms {
		var rates, cpus []float64
		var failed int64
		for _, s := range r.samples {
			if s.form == form {
				rates, cpus = append(rates, s.reqPerSec), append(cpus, micros(s.cpuPerReq))
				failed += s.failed
			}
		}
		cpu[form] = median(cpus)
		ratio := "1.00"
		if form != "proxy" && cpu["proxy"] > 0 {
			ratio = fmt.Sprintf("**%.2f**", cpu[form]/cpu["proxy"])
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %s | %d |\n", form, median(rates), cpu[form], ratio, failed)
	}
	return b.String()
}
