package demo

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// Credentials are made up: the embedded upstream accepts them and nothing else.
var Credentials = sigv4.Credentials{AccessKeyID: "AKIASIGNWAYDEMO00001", SecretAccessKey: "signway-demo-secret/not-for-production"}

// Step is one scripted request of the demo.
type Step struct {
	what   string
	method string
	url    func(proxyURL, upstreamURL string) string
	body   string
	want   int
}

// Steps are what `signway demo` sends, through signway and around it.
var Steps = []Step{
	{"store an object through signway", http.MethodPut, func(p, _ string) string { return p + "/hello.txt" }, "Hello from signway!\n", 200},
	{"read it back", http.MethodGet, func(p, _ string) string { return p + "/hello.txt" }, "", 200},
	{"a key with spaces, +, =, :, @ and ()", http.MethodPut, func(p, _ string) string { return p + "/reports/2026%20Q1/a+b=c:d@e%20(1).txt" }, "quarterly numbers\n", 200},
	{"list keys under reports/", http.MethodGet, func(p, _ string) string { return p + "/?prefix=reports/" }, "", 200},
	{"the same read sent straight to the upstream, unsigned", http.MethodGet, func(_, u string) string { return u + "/hello.txt" }, "", 403},
}

// Script sends Steps through proxyURL (and around it, to upstreamURL),
// prints each with its answer, and returns how many answered unexpectedly.
func Script(ctx context.Context, stdout io.Writer, proxyURL, upstreamURL string) int {
	failed := 0
	client := &http.Client{Timeout: 10 * time.Second}
	for _, s := range Steps {
		status, verified, body, err := request(ctx, client, s.method, s.url(proxyURL, upstreamURL), s.body)
		mark := "ok"
		if err != nil || status != s.want {
			mark, failed = "UNEXPECTED", failed+1
		}
		fmt.Fprintf(stdout, "[%s] %s\n     %s %s -> %d %s\n", mark, s.what, s.method, s.url(proxyURL, upstreamURL), status, summarize(body, err))
		if verified != "" {
			fmt.Fprintf(stdout, "     the upstream verified: %s\n", verified)
		}
	}
	return failed
}

func request(ctx context.Context, c *http.Client, method, url, body string) (status int, verified, respBody string, err error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, "", "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, resp.Header.Get("X-Demo-Verified"), string(b), err
}

// summarize shows a response body on one line: the stored text, the listed
// keys, or an error's code.
func summarize(body string, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if i := strings.Index(body, "<Code>"); i >= 0 {
		code, _, _ := strings.Cut(body[i+6:], "<")
		msg := ""
		if j := strings.Index(body, "<Message>"); j >= 0 {
			msg, _, _ = strings.Cut(body[j+9:], "<")
			msg = ": " + html.UnescapeString(strings.TrimPrefix(msg, "sigv4 verify: "))
		}
		return "(" + code + msg + ")"
	}
	if strings.Contains(body, "<ListBucketResult") {
		var keys []string
		for _, part := range strings.Split(body, "<Key>")[1:] {
			k, _, _ := strings.Cut(part, "<")
			keys = append(keys, k)
		}
		return "keys: " + strings.Join(keys, ", ")
	}
	return strings.TrimSpace(body)
}
