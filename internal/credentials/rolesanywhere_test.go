package credentials

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	raTrustAnchor = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta-1"
	raProfile     = "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/p-1"
	raRole        = "arn:aws:iam::123456789012:role/workload"
)

// testPKI is a CA, an optional intermediate, and leaf certificates it
// issues, written as PEM files.
type testPKI struct {
	t     *testing.T
	dir   string
	ca    *x509.Certificate
	caKey crypto.Signer
	inter *x509.Certificate
	iKey  crypto.Signer
}

func newTestPKI(t *testing.T) *testPKI {
	p := &testPKI{t: t, dir: t.TempDir()}
	p.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.ca = p.issue("test trust anchor CA", p.caKey, nil, nil, true, 1)
	p.iKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.inter = p.issue("intermediate", p.iKey, p.ca, p.caKey, true, 2)
	return p
}

func (p *testPKI) issue(cn string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, isCA bool, serial int64) *x509.Certificate {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: isCA,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		p.t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// leaf writes a leaf certificate (serial) with a new key of kind "ec" or
// "rsa" to cert.pem and key.pem, issued by the intermediate.
func (p *testPKI) leaf(kind string, serial int64) (certFile, keyFile string) {
	var key crypto.Signer
	var keyPEM *pem.Block
	switch kind {
	case "rsa":
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		key, keyPEM = k, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	default:
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		key, keyPEM = k, &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	c := p.issue("workload", key, p.inter, p.iKey, false, serial)
	certFile, keyFile = filepath.Join(p.dir, "cert.pem"), filepath.Join(p.dir, "key.pem")
	p.write(certFile, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	p.write(keyFile, keyPEM)
	return certFile, keyFile
}

func (p *testPKI) intermediatesFile() string {
	f := filepath.Join(p.dir, "chain.pem")
	p.write(f, &pem.Block{Type: "CERTIFICATE", Bytes: p.inter.Raw})
	return f
}

func (p *testPKI) write(path string, b *pem.Block) {
	if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
		p.t.Fatal(err)
	}
}

// createSessionServer is a Roles Anywhere CreateSession endpoint that does
// what the service does with the request's X.509 signature: rebuilds the
// canonical request from what arrived on the wire, checks the signature
// with the certificate's public key, and checks the certificate chains to
// the trust anchor's CA.
type createSessionServer struct {
	*httptest.Server
	pki     *testPKI
	mu      sync.Mutex
	serials []string
	inputs  []createSessionInput
}

func newCreateSessionServer(t *testing.T, pki *testPKI) *createSessionServer {
	s := &createSessionServer{pki: pki}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *createSessionServer) deny(w http.ResponseWriter, code, msg string) {
	w.Header().Set("X-Amzn-Errortype", code+":http://internal.amazon.com/coral/")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}

func (s *createSessionServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/sessions" {
		s.deny(w, "UnknownOperationException", "not CreateSession")
		return
	}
	der, err := base64.StdEncoding.DecodeString(r.Header.Get("X-Amz-X509"))
	cert, err2 := x509.ParseCertificate(der)
	if err != nil || err2 != nil {
		s.deny(w, "AccessDeniedException", "no X-Amz-X509 certificate")
		return
	}
	inters := x509.NewCertPool()
	if chain := r.Header.Get("X-Amz-X509-Chain"); chain != "" {
		for _, b64 := range strings.Split(chain, ",") {
			d, _ := base64.StdEncoding.DecodeString(b64)
			if c, err := x509.ParseCertificate(d); err == nil {
				inters.AddCert(c)
			}
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(s.pki.ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		s.deny(w, "AccessDeniedException", "Untrusted certificate. Insufficient certificate")
		return
	}
	// Authorization: ALG Credential=SERIAL/DATE/REGION/rolesanywhere/aws4_request, SignedHeaders=a;b, Signature=HEX
	alg, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(f, "=")
		fields[k] = v
	}
	credParts := strings.Split(fields["Credential"], "/")
	if len(credParts) != 5 || credParts[0] != cert.SerialNumber.String() || credParts[3] != "rolesanywhere" {
		s.deny(w, "AccessDeniedException", "bad credential scope")
		return
	}
	var canon strings.Builder
	query, _ := url.ParseQuery(r.URL.RawQuery)
	canon.WriteString(r.Method + "\n" + r.URL.EscapedPath() + "\n" + strings.ReplaceAll(query.Encode(), "+", "%20") + "\n")
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canon.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	bh := sha256.Sum256(body)
	canon.WriteString("\n" + fields["SignedHeaders"] + "\n" + hex.EncodeToString(bh[:]))
	crh := sha256.Sum256([]byte(canon.String()))
	sts := alg + "\n" + r.Header.Get("X-Amz-Date") + "\n" + strings.Join(credParts[1:], "/") + "\n" + hex.EncodeToString(crh[:])
	digest := sha256.Sum256([]byte(sts))
	sig, _ := hex.DecodeString(fields["Signature"])
	ok := false
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		ok = alg == "AWS4-X509-ECDSA-SHA256" && ecdsa.VerifyASN1(pub, digest[:], sig)
	case *rsa.PublicKey:
		ok = alg == "AWS4-X509-RSA-SHA256" && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
	}
	if !ok || !slices.Contains(signed, "x-amz-x509") || !slices.Contains(signed, "x-amz-date") {
		s.deny(w, "AccessDeniedException", "Signature validation failed")
		return
	}
	var in createSessionInput
	json.Unmarshal(body, &in)
	s.mu.Lock()
	s.serials = append(s.serials, cert.SerialNumber.String())
	s.inputs = append(s.inputs, in)
	s.mu.Unlock()
	if query.Get("trustAnchorArn") != raTrustAnchor || query.Get("profileArn") != raProfile || query.Get("roleArn") != raRole {
		s.deny(w, "ValidationException", "the query does not name the trust anchor, profile and role")
		return
	}
	fmt.Fprintf(w, `{"credentialSet":[{"credentials":{"accessKeyId":"ASIARA%s","secretAccessKey":"ra-secret","sessionToken":"ra-token","expiration":%q}}],"subjectArn":"arn:aws:rolesanywhere:eu-west-1:123456789012:subject/s"}`,
		cert.SerialNumber, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
}

func TestRolesAnywhere(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kind  string
		chain bool
	}{{"EC key with intermediates", "ec", true}, {"RSA key with intermediates", "rsa", true}} {
		t.Run(tc.name, func(t *testing.T) {
			pki := newTestPKI(t)
			srv := newCreateSessionServer(t, pki)
			certFile, keyFile := pki.leaf(tc.kind, 100)
			o := RolesAnywhereOptions{CertificateFile: certFile, PrivateKeyFile: keyFile, TrustAnchorARN: raTrustAnchor,
				ProfileARN: raProfile, RoleARN: raRole, Endpoint: srv.URL, Duration: time.Hour}
			if tc.chain {
				o.IntermediatesFile = pki.intermediatesFile()
			}
			p, err := RolesAnywhere(o)
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.AccessKeyID != "ASIARA100" || c.SecretAccessKey != "ra-secret" || c.SessionToken != "ra-token" || !c.CanExpire || time.Until(c.Expires) < 50*time.Minute {
				t.Fatalf("credentials %v", c)
			}
			if in := srv.inputs[0]; in.DurationSeconds != 3600 {
				t.Errorf("durationSeconds %d", in.DurationSeconds)
			}

			// A rotated certificate (new key, new serial) is used at the next
			// refresh, with no restart.
			pki.leaf(tc.kind, 101)
			if c, err = p.Retrieve(context.Background()); err != nil || c.AccessKeyID != "ASIARA101" {
				t.Fatalf("after rotation: %v %v", c, err)
			}
		})
	}
}

func TestRolesAnywhereErrors(t *testing.T) {
	pki := newTestPKI(t)
	srv := newCreateSessionServer(t, pki)
	certFile, keyFile := pki.leaf("ec", 7)
	other := newTestPKI(t) // a CA the trust anchor does not know
	strangerDir := t.TempDir()
	strangerCert, strangerKey := other.leaf("ec", 8)
	for _, f := range []string{strangerCert, strangerKey} {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(strangerDir, filepath.Base(f)), b, 0o600)
	}
	base := RolesAnywhereOptions{CertificateFile: certFile, PrivateKeyFile: keyFile, IntermediatesFile: pki.intermediatesFile(),
		TrustAnchorARN: raTrustAnchor, ProfileARN: raProfile, RoleARN: raRole, Endpoint: srv.URL}
	for _, tc := range []struct {
		name    string
		edit    func(*RolesAnywhereOptions)
		newErr  string // from RolesAnywhere
		getErr  string // from Retrieve
		errCode string
	}{
		{name: "missing fields", edit: func(o *RolesAnywhereOptions) { o.RoleARN, o.CertificateFile = "", "" }, newErr: "role_arn is required"},
		{name: "bad trust anchor", edit: func(o *RolesAnywhereOptions) { o.TrustAnchorARN = "ta-1" }, newErr: "trust_anchor_arn"},
		{name: "profile in another region", edit: func(o *RolesAnywhereOptions) {
			o.ProfileARN = strings.Replace(raProfile, "eu-west-1", "us-east-1", 1)
		}, newErr: "trust anchor's region eu-west-1"},
		{name: "duration too long", edit: func(o *RolesAnywhereOptions) { o.Duration = 13 * time.Hour }, newErr: "between 15m and 12h"},
		{name: "no certificate file", edit: func(o *RolesAnywhereOptions) { o.CertificateFile = filepath.Join(t.TempDir(), "none.pem") }, getErr: "no PEM certificate could be read"},
		{name: "key of another certificate", edit: func(o *RolesAnywhereOptions) { o.PrivateKeyFile = filepath.Join(strangerDir, "key.pem") }, getErr: "is not the key of certificate_file"},
		{name: "untrusted CA", edit: func(o *RolesAnywhereOptions) {
			o.CertificateFile, o.PrivateKeyFile = filepath.Join(strangerDir, "cert.pem"), filepath.Join(strangerDir, "key.pem")
		}, getErr: "CreateSession refused (403 AccessDeniedException): Untrusted certificate", errCode: "AccessDeniedException"},
		{name: "endpoint down", edit: func(o *RolesAnywhereOptions) { o.Endpoint = "http://127.0.0.1:1" }, getErr: "failed before an answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			p, err := RolesAnywhere(o)
			if tc.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.newErr) {
					t.Fatalf("RolesAnywhere: %v, want %q", err, tc.newErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Retrieve(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.getErr) {
				t.Fatalf("Retrieve: %v, want %q", err, tc.getErr)
			}
			var se *SourceError
			if !asSourceError(err, &se) || se.Code != tc.errCode {
				t.Errorf("error %T %v: want a *SourceError with code %q", err, err, tc.errCode)
			}
		})
	}
}

func asSourceError(err error, target **SourceError) bool {
	se, ok := err.(*SourceError)
	*target = se
	return ok
}
