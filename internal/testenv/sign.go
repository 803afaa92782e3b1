package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// UnsignedPayload is the x-amz-content-sha256 value that leaves the body
// out of the signature.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// PayloadHash returns the hex SHA-256 of body, the x-amz-content-sha256 of a
// signed payload.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// SignSDK signs r in place with aws-sdk-go-v2's SigV4 signer at the current
// time. The tests use the SDK as an independent reference, never signway's
// own signer, so a bug in signway's signer cannot also hide in the test
// harness. For s3 it sets x-amz-content-sha256 (which S3 requires) and
// signs the path as it is, as the SDK's S3 client does.
func SignSDK(r *http.Request, accessKeyID, secretAccessKey, service, region, payloadHash string) error {
	creds := aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey}
	if service == "s3" {
		r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash, service, region, time.Now().UTC(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	if err != nil {
		return fmt.Errorf("signing %s %s for %s/%s: %w", r.Method, r.URL, service, region, err)
	}
	return nil
}
