package gateway

import (
	"crypto/tls"
	"log/slog"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/inbound"
)

// ListenerTLS is the main listener's TLS from listen.tls: its certificate,
// to be reloaded when cert.Files change, and client certificates asked for
// when client_ca_file is set. Without a certificate file both are nil.
func ListenerTLS(tc config.ListenTLS, log *slog.Logger) (*tls.Config, *Certificate, error) {
	if tc.CertFile == "" {
		return nil, nil, nil
	}
	cert, err := LoadCertificate(tc.CertFile, tc.KeyFile, log)
	if err != nil {
		return nil, nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cert.GetCertificate}
	if err := inbound.AskClientCertificates(c, tc.ClientCAFile); err != nil {
		return nil, nil, err
	}
	return c, cert, nil
}
