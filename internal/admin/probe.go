package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Probe GETs /healthz (or /readyz when ready) from the utility port at
// hostport and returns "URL: answer" when it answers 200, an error
// otherwise: `signway healthcheck`, for images without a shell or curl.
func Probe(ctx context.Context, hostport string, ready bool, timeout time.Duration) (string, error) {
	path := "/healthz"
	if ready {
		path = "/readyz"
	}
	url := "http://" + hostport + path
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	// No proxy: HTTP_PROXY set for the gateway's own use must not divert this.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %s: %s", url, resp.Status, text)
	}
	return url + ": " + text, nil
}

// DialAddress turns a listen address (the utility port's forms: "9090",
// ":9090", "0.0.0.0:9090", "[::]:9090") into one to connect to.
func DialAddress(addr string) (string, error) {
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port == "" {
		return "", errors.New("no port")
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port), nil
}
