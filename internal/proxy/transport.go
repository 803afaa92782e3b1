package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/signway/signway/internal/config"
)

// TransportOptions tune the upstream transport.
type TransportOptions struct {
	// ConnectTimeout bounds dialling and the TLS handshake.
	ConnectTimeout time.Duration
	// CAFile is a PEM bundle of extra roots for upstream TLS.
	CAFile string
	// InsecureSkipVerify disables upstream certificate checks.
	InsecureSkipVerify bool
	// MaxIdleConnsPerHost defaults to 1024: a proxy multiplexes many callers
	// onto few upstreams, and Go's default of 2 makes most requests dial.
	MaxIdleConnsPerHost int
	// Conns, when set, counts this transport's connections (shared by all
	// of a gateway's transports, for its metrics).
	Conns *UpstreamConns
}

// NewTransport returns an *http.Transport tuned for proxying.
func NewTransport(o TransportOptions) (*http.Transport, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = config.DefaultConnectTimeout.D()
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 1024
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the upstream CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the upstream CA file %s holds no PEM certificate", o.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	dial := d.DialContext
	if o.Conns != nil {
		dial = o.Conns.dialer(dial)
	}
	dial = earlyAnswerDialer(dial) // outermost: httptrace reports this conn
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dial,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: o.ConnectTimeout,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        0, // no global cap; the per-host cap bounds it
		MaxIdleConnsPerHost: o.MaxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		// No ResponseHeaderTimeout: the proxy bounds the wait for headers
		// itself, per route, with one timer for all requests (lateHeaders).
		ExpectContinueTimeout: time.Second,
		// A proxy passes bodies through: letting the transport ask for gzip
		// and decompress would change what the caller receives.
		DisableCompression: true,
		// Per connection, so per upload in flight: bodies bigger than these
		// bypass them (bufio reads and writes large slices directly), and
		// 16 KiB keeps a stalled upload's cost low (issue 12: 256 KiB).
		WriteBufferSize: 16 << 10,
		ReadBufferSize:  16 << 10,
		HTTP2:           &http.HTTP2Config{MaxEncoderHeaderTableSize: hpackTableSize},
	}, nil
}

// hpackTableSize turns off HPACK's dynamic table for the headers signway
// sends over HTTP/2: every signed request carries values never seen before
// (Authorization, X-Amz-Date, X-Request-Id), and indexing them only evicts
// older entries. Go's encoder evicts on the per-request goroutine that
// writes the headers, and that path is deep enough to grow the goroutine's
// stack each time: under load it cost about 6% of signway's CPU against a
// TLS HTTP/2 origin (docs/performance.md). Without the table each header is
// sent as a Huffman-coded literal, a few hundred bytes more per request; 1
// is the smallest limit Go accepts (0 means its default, 4096).
const hpackTableSize = 1
