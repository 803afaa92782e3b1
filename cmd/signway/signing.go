package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/signway/signway/internal/awsendpoint"
)

// resolveSigning combines detection with the --service and --region flags:
// an explicit value wins, and a missing one is an error naming the flag
// that supplies it. A Multi-Region Access Point needs no region: it is
// signed with SigV4A over every region.
func resolveSigning(host, service, region, fallbackRegion string) (string, string, error) {
	d := awsendpoint.Detect(host)
	if service == "" {
		service = d.Service
	}
	if region == "" {
		region = d.Region
	}
	if region == "" {
		region = fallbackRegion
	}
	var missing []string
	if service == "" {
		missing = append(missing, fmt.Sprintf("the signing service cannot be detected from host %q: add --service (for example --service execute-api)", host))
	}
	if region == "" && !d.MultiRegion {
		missing = append(missing, fmt.Sprintf("the region cannot be detected from host %q: add --region (for example --region us-east-1) or set AWS_REGION", host))
	}
	if len(missing) > 0 {
		return "", "", errors.New(strings.Join(missing, "; "))
	}
	return service, region, nil
}
