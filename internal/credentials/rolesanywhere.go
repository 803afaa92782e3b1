package credentials

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// RolesAnywhereOptions configure IAM Roles Anywhere: an X.509 certificate
// issued by a trust anchor's CA is exchanged for temporary credentials of
// a role (CreateSession), so a workload outside AWS needs no long-lived keys.
type RolesAnywhereOptions struct {
	// CertificateFile is the PEM end-entity certificate; PrivateKeyFile its
	// PEM key (EC or RSA, PKCS#1, PKCS#8 or SEC 1); IntermediatesFile an
	// optional PEM bundle of intermediate CAs. All three are read again at
	// each refresh, so a rotated certificate is used without a restart.
	CertificateFile, PrivateKeyFile, IntermediatesFile string
	TrustAnchorARN, ProfileARN, RoleARN                string
	// Duration of the credentials; 0 lets the profile decide (1 hour by default).
	Duration time.Duration
	// SessionName is the role session name, when the profile accepts one.
	SessionName string
	// Endpoint overrides https://rolesanywhere.REGION.amazonaws.com, the
	// region being the trust anchor's.
	Endpoint string
	// HTTPClient sends CreateSession; nil means a client with TLS 1.2 and
	// certificate verification, and a one-minute timeout.
	HTTPClient *http.Client
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
}

// RolesAnywhere returns a Provider that calls CreateSession. The request is
// signed the way AWS's rolesanywhere-credential-helper signs it (SigV4's
// canonical request, the string to sign signed with the certificate's key:
// AWS4-X509-ECDSA-SHA256 or AWS4-X509-RSA-SHA256). That module itself
// needs cgo (PKCS#11) and the retired aws-sdk-go v1, which a static
// signway binary cannot carry.
func RolesAnywhere(o RolesAnywhereOptions) (Provider, error) {
	var errs []error
	for name, v := range map[string]string{"certificate_file": o.CertificateFile, "private_key_file": o.PrivateKeyFile,
		"trust_anchor_arn": o.TrustAnchorARN, "profile_arn": o.ProfileARN, "role_arn": o.RoleARN} {
		if v == "" {
			errs = append(errs, fmt.Errorf("roles_anywhere: %s is required", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	region, err := arnRegion(o.TrustAnchorARN)
	if err != nil {
		return nil, fmt.Errorf("roles_anywhere: trust_anchor_arn: %w", err)
	}
	if pr, err := arnRegion(o.ProfileARN); err != nil || pr != region {
		return nil, fmt.Errorf("roles_anywhere: profile_arn %q must be an ARN in the trust anchor's region %s", o.ProfileARN, region)
	}
	if o.Duration != 0 && (o.Duration < 15*time.Minute || o.Duration > 12*time.Hour) {
		return nil, fmt.Errorf("roles_anywhere: duration %s must be between 15m and 12h", o.Duration)
	}
	if o.Endpoint == "" {
		o.Endpoint = "https://rolesanywhere." + region + ".amazonaws.com"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &rolesAnywhere{o: o, region: region}, nil
}

type rolesAnywhere struct {
	o      RolesAnywhereOptions
	region string
}

func (p *rolesAnywhere) String() string { return "roles anywhere " + p.o.RoleARN }

func (p *rolesAnywhere) fail(reason string, args ...any) error {
	return &SourceError{Source: p.String(), Reason: fmt.Sprintf(reason, args...)}
}

func (p *rolesAnywhere) Retrieve(ctx context.Context) (Credentials, error) {
	cert, chain, key, err := p.readFiles()
	if err != nil {
		return Credentials{}, err
	}
	// The ARNs go in the query, the certificate in X-Amz-X509, the rest
	// in the JSON body: CreateSession's REST binding.
	body, _ := json.Marshal(createSessionInput{DurationSeconds: int64(p.o.Duration / time.Second), RoleSessionName: p.o.SessionName})
	q := url.Values{"profileArn": {p.o.ProfileARN}, "roleArn": {p.o.RoleARN}, "trustAnchorArn": {p.o.TrustAnchorARN}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(p.o.Endpoint, "/")+"/sessions?"+canonicalQuery(q), bytes.NewReader(body))
	if err != nil {
		return Credentials{}, p.fail("endpoint %q is not a URL", p.o.Endpoint)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := signX509(req, body, cert, chain, key, p.region, p.o.Now()); err != nil {
		return Credentials{}, p.fail("signing CreateSession with the certificate's key: %v", err)
	}
	resp, err := p.o.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Credentials{}, ctx.Err()
		}
		return Credentials{}, p.fail("CreateSession at %s failed before an answer (network or TLS)", p.o.Endpoint)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		// The service's own code and message say what is wrong with the
		// trust anchor, profile or certificate; they carry no secret.
		var e struct{ Message, Code string }
		_ = json.Unmarshal(raw, &e)
		code := resp.Header.Get("X-Amzn-Errortype")
		if i := strings.IndexByte(code, ':'); i >= 0 {
			code = code[:i]
		}
		if code == "" {
			code = e.Code
		}
		return Credentials{}, &SourceError{Source: p.String(), Code: code, Status: resp.StatusCode,
			Reason: fmt.Sprintf("CreateSession refused (%d %s): %s", resp.StatusCode, code, truncate(e.Message, 200))}
	}
	var out createSessionOutput
	if err := json.Unmarshal(raw, &out); err != nil || len(out.CredentialSet) == 0 || out.CredentialSet[0].Credentials.AccessKeyID == "" {
		return Credentials{}, p.fail("CreateSession answered 200 without credentials")
	}
	c := out.CredentialSet[0].Credentials
	exp, err := time.Parse(time.RFC3339, c.Expiration)
	if err != nil {
		return Credentials{}, p.fail("CreateSession's expiration %q is not a time", c.Expiration)
	}
	return Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		CanExpire: true, Expires: exp, Source: p.String()}, nil
}

type createSessionInput struct {
	DurationSeconds int64  `json:"durationSeconds,omitempty"`
	RoleSessionName string `json:"roleSessionName,omitempty"`
}

type createSessionOutput struct {
	CredentialSet []struct {
		Credentials struct {
			AccessKeyID     string `json:"accessKeyId"`
			SecretAccessKey string `json:"secretAccessKey"`
			SessionToken    string `json:"sessionToken"`
			Expiration      string `json:"expiration"`
		} `json:"credentials"`
	} `json:"credentialSet"`
}

// readFiles reads the certificate, intermediates and key, and checks that
// the key belongs to the certificate: a mismatch after a half-done rotation
// is named here rather than as CreateSession's signature error.
func (p *rolesAnywhere) readFiles() (*x509.Certificate, []*x509.Certificate, crypto.Signer, error) {
	certs, err := readPEMCerts(p.o.CertificateFile)
	if err != nil || len(certs) == 0 {
		return nil, nil, nil, p.fail("certificate_file %s: no PEM certificate could be read", p.o.CertificateFile)
	}
	var chain []*x509.Certificate
	if p.o.IntermediatesFile != "" {
		if chain, err = readPEMCerts(p.o.IntermediatesFile); err != nil || len(chain) == 0 {
			return nil, nil, nil, p.fail("intermediates_file %s: no PEM certificate could be read", p.o.IntermediatesFile)
		}
	}
	key, err := readPEMKey(p.o.PrivateKeyFile)
	if err != nil {
		return nil, nil, nil, p.fail("private_key_file %s: %v", p.o.PrivateKeyFile, err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(certs[0].PublicKey) {
		return nil, nil, nil, p.fail("private_key_file %s is not the key of certificate_file %s", p.o.PrivateKeyFile, p.o.CertificateFile)
	}
	return certs[0], chain, key, nil
}

func readPEMCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

func readPEMKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.New("cannot be read")
	}
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return nil, errors.New("holds no PEM private key (encrypted keys are not supported)")
		}
		var k any
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("its %s block does not parse", block.Type)
		}
		switch k := k.(type) {
		case *ecdsa.PrivateKey:
			return k, nil
		case *rsa.PrivateKey:
			return k, nil
		}
		return nil, errors.New("holds a key that is neither EC nor RSA")
	}
}

// signX509 signs CreateSession as the credential helper does: SigV4's
// canonical request over host, content-type, x-amz-date, x-amz-x509 (and
// x-amz-x509-chain), then the string to sign signed with SHA-256 by the
// certificate's key, the credential being the certificate's serial number.
func signX509(r *http.Request, body []byte, cert *x509.Certificate, chain []*x509.Certificate, key crypto.Signer, region string, now time.Time) error {
	algorithm := "AWS4-X509-ECDSA-SHA256"
	if _, ok := key.(*rsa.PrivateKey); ok {
		algorithm = "AWS4-X509-RSA-SHA256"
	}
	date := now.UTC().Format("20060102T150405Z")
	scope := date[:8] + "/" + region + "/rolesanywhere/aws4_request"
	r.Header.Set("X-Amz-Date", date)
	r.Header.Set("X-Amz-X509", base64.StdEncoding.EncodeToString(cert.Raw))
	if len(chain) > 0 {
		parts := make([]string, len(chain))
		for i, c := range chain {
			parts[i] = base64.StdEncoding.EncodeToString(c.Raw)
		}
		r.Header.Set("X-Amz-X509-Chain", strings.Join(parts, ","))
	}
	names := []string{"content-type", "host", "x-amz-date", "x-amz-x509"}
	if len(chain) > 0 {
		names = append(names, "x-amz-x509-chain")
	}
	var canon strings.Builder
	canon.WriteString("POST\n/sessions\n" + r.URL.RawQuery + "\n")
	for _, n := range names {
		v := r.Header.Get(n)
		if n == "host" {
			v = r.URL.Host
		}
		canon.WriteString(n + ":" + strings.TrimSpace(v) + "\n")
	}
	bodyHash := sha256.Sum256(body)
	canon.WriteString("\n" + strings.Join(names, ";") + "\n" + hex.EncodeToString(bodyHash[:]))
	crHash := sha256.Sum256([]byte(canon.String()))
	stringToSign := algorithm + "\n" + date + "\n" + scope + "\n" + hex.EncodeToString(crHash[:])
	digest := sha256.Sum256([]byte(stringToSign))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", algorithm+" Credential="+cert.SerialNumber.String()+"/"+scope+
		", SignedHeaders="+strings.Join(names, ";")+", Signature="+hex.EncodeToString(sig))
	return nil
}

// canonicalQuery is q sorted and encoded with %20 for spaces, as SigV4
// wants it; the ARNs hold nothing else that needs care.
func canonicalQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

// arnRegion is the region field of an ARN (arn:PARTITION:SERVICE:REGION:...).
func arnRegion(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[3] == "" {
		return "", fmt.Errorf("%q is not an ARN with a region (arn:aws:rolesanywhere:REGION:ACCOUNT:...)", arn)
	}
	return parts[3], nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
