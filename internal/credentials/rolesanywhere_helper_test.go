//go:build cgo

package credentials

import (
	"testing"

	helper "github.com/aws/rolesanywhere-credential-helper/aws_signing_helper"
)

// AWS's own rolesanywhere-credential-helper (which needs cgo, so signway
// cannot link it) is accepted by the test's CreateSession endpoint: the
// endpoint's signature check is the service's, not one written to agree
// with signway's signer.
func TestRolesAnywhereEndpointAcceptsAWSHelper(t *testing.T) {
	for _, kind := range []string{"ec", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			pki := newTestPKI(t)
			srv := newCreateSessionServer(t, pki)
			certFile, keyFile := pki.leaf(kind, 300)
			chain := pki.intermediatesFile()
			signer, alg, err := helper.GetFileSystemSigner(keyFile, certFile, chain, false)
			if err != nil {
				t.Fatal(err)
			}
			out, err := helper.GenerateCredentials(&helper.CredentialsOpts{
				PrivateKeyId: keyFile, CertificateId: certFile, CertificateBundleId: chain,
				RoleArn: raRole, ProfileArnStr: raProfile, TrustAnchorArnStr: raTrustAnchor,
				SessionDuration: 3600, Endpoint: srv.URL, Region: "eu-west-1",
			}, signer, alg)
			if err != nil {
				t.Fatalf("AWS's helper was refused by the test endpoint: %v", err)
			}
			if out.AccessKeyId != "ASIARA300" {
				t.Fatalf("helper got %q", out.AccessKeyId)
			}
		})
	}
}
