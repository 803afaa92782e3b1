// Command checkload calls Envoy's ext_authz Check on a signway authz gRPC
// listener from many goroutines over a few connections, as Envoy would, for
// a duration, and prints "ok N failed N rate R". make bench (loadbench)
// runs it to measure signway's CPU per Check; it is a program of its own so
// that gRPC stays out of loadbench's binary.
package main

import (
	"context"
	"errors"
	"flag"
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

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "checkload:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("checkload", flag.ContinueOnError)
	addr := fs.String("addr", "", "signway's authz.grpc_address")
	host := fs.String("host", "", "the Host of the request being checked")
	path := fs.String("path", "/loadbench-bucket/object-1k", "the path of the GET being checked")
	callers := fs.Int("callers", 64, "goroutines calling Check")
	conns := fs.Int("conns", 2, "HTTP/2 connections they share: Envoy keeps a few to an ext_authz cluster")
	dur := fs.Duration("duration", 10*time.Second, "how long to call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" || *host == "" || *callers <= 0 || *conns <= 0 || *dur <= 0 {
		return errors.New("-addr and -host are required; -callers, -conns and -duration must be positive")
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1", Method: "GET", Path: *path, Host: *host, Scheme: "http", Protocol: "HTTP/1.1",
			Headers: map[string]string{":authority": *host, ":method": "GET", ":path": *path, "user-agent": "checkload", "accept": "*/*"},
		}},
	}}
	var clients []authv3.AuthorizationClient
	for range *conns {
		c, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return fmt.Errorf("gRPC client for %s: %w", *addr, err)
		}
		defer c.Close()
		clients = append(clients, authv3.NewAuthorizationClient(c))
	}

	// The calls get no deadline: gRPC would end those in flight when it
	// passes, a failure that is the driver's own. The callers stop
	// starting calls instead.
	ctx := context.Background()
	var stop atomic.Bool
	time.AfterFunc(*dur, func() { stop.Store(true) })
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := range *callers {
		client := clients[i%len(clients)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := client.Check(ctx, req)
				switch {
				case err != nil:
					firstErr.CompareAndSwap(nil, err)
					failed.Add(1)
				case resp.GetOkResponse() == nil:
					firstErr.CompareAndSwap(nil, fmt.Errorf("the Check was denied: %s", strings.TrimSpace(resp.GetDeniedResponse().GetBody())))
					failed.Add(1)
				default:
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if e, _ := firstErr.Load().(error); e != nil {
		fmt.Fprintf(os.Stderr, "checkload: %d calls failed, the first with: %v\n", failed.Load(), e)
		if ok.Load() == 0 {
			return e
		}
	}
	fmt.Printf("ok %d failed %d rate %.1f\n", ok.Load(), failed.Load(), float64(ok.Load())/elapsed.Seconds())
	return nil
}
