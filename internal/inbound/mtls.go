package inbound

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// AskClientCertificates makes the listener of c ask callers for a certificate
// issued by the CAs in caFile, and verify one when it is given. It is not
// required at the handshake: routes whose auth accepts mtls refuse a caller
// without one (with an answer that says so), the others do not care.
func AskClientCertificates(c *tls.Config, caFile string) error {
	if caFile == "" {
		return nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("listen.tls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("listen.tls.client_ca_file %s: no PEM certificate in it", caFile)
	}
	c.ClientCAs, c.ClientAuth = pool, tls.VerifyClientCertIfGiven
	return nil
}
