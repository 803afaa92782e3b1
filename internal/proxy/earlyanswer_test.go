package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/signway/signway/internal/config"
)

// answersEarly is an upstream that refuses every request as soon as it has
// the headers, without reading the body, and closes the connection: what S3
// does with a failed conditional write (412) or a refused one (403).
func answersEarly(t *testing.T, status int, useTLS bool) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	scheme := "http"
	if useTLS {
		// httptest's certificate; HTTP/1.1 only, as S3 answers.
		s := httptest.NewUnstartedServer(http.NotFoundHandler())
		s.StartTLS()
		conf := s.TLS.Clone()
		s.Close()
		conf.NextProtos = []string{"http/1.1"}
		ln = tls.NewListener(ln, conf)
		scheme = "https"
	}
	body := "<Error><Code>PreconditionFailed</Code></Error>"
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
					status, http.StatusText(status), len(body), body)
			}()
		}
	}()
	return &url.URL{Scheme: scheme, Host: ln.Addr().String()}
}

// TestEarlyAnswerReachesTheCaller is issue 12 item 11: an upstream that
// answers a PUT before reading its body and closes must reach the caller as
// its own answer, never as 502 "broken pipe" (about 1 time in 5 before).
func TestEarlyAnswerReachesTheCaller(t *testing.T) {
	const size, tries = 4 << 20, 25
	for _, tt := range []struct {
		mode config.PayloadMode
		tls  bool
	}{{config.PayloadSigned, false}, {config.PayloadUnsigned, false}, {config.PayloadStreaming, false}, {config.PayloadUnsigned, true}} {
		mode := tt.mode
		t.Run(fmt.Sprintf("%s tls=%v", mode, tt.tls), func(t *testing.T) {
			// Counted, as the gateway's are: the conn is then wrapped twice.
			tr, err := NewTransport(TransportOptions{Conns: &UpstreamConns{}, InsecureSkipVerify: tt.tls})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.CloseIdleConnections()
			rt := &Route{Name: "early", Target: answersEarly(t, http.StatusPreconditionFailed, tt.tls), Service: "s3", Region: "us-east-1",
				Credentials: staticCreds, Payload: mode, SpoolDir: t.TempDir()}
			p, err := New(Options{Route: rt, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			srv, _ := stallServer(t, p)
			bad := 0
			for range tries {
				resp := rawPut(t, srv.Listener.Addr().String(), "/bucket/key", size, io.LimitReader(zeros{}, size))
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusPreconditionFailed {
					bad++
					t.Logf("status %d: %.200s", resp.StatusCode, body)
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d early 412 answers were lost", bad, tries)
			}
		})
	}
}
