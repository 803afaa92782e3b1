package proxy

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// regionLabel matches AWS region names in every partition: us-east-1,
// cn-north-1, us-gov-west-1, us-iso-east-1, eu-isoe-west-1.
var regionLabel = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$`)

// awsSuffixes are the DNS suffixes of the partitions; the labels before them
// name the service and region.
var awsSuffixes = []string{".amazonaws.com.cn", ".amazonaws.com", ".api.aws", ".on.aws", ".c2s.ic.gov", ".sc2s.sgov.gov", ".api.amazonwebservices.com.cn"}

// signingNames maps an endpoint prefix to the name its requests are signed
// for, where the two differ.
var signingNames = map[string]string{
	"s3-accesspoint":        "s3",
	"s3-control":            "s3",
	"s3-external-1":         "s3",
	"bedrock-runtime":       "bedrock",
	"bedrock-agent-runtime": "bedrock",
	"bedrock-agent":         "bedrock",
	"runtime.sagemaker":     "sagemaker",
	"lambda-url":            "lambda",
	"streams.dynamodb":      "dynamodb",
}

// DetectedService is what the forward-to URL's host says about signing.
type DetectedService struct {
	Service string
	Region  string
}

// DetectService derives the signing service and region from an AWS endpoint
// host name. Either field may come back empty when the host doesn't say.
func DetectService(host string) DetectedService {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	suffix := ""
	for _, s := range awsSuffixes {
		if strings.HasSuffix(host, s) {
			suffix = s
			break
		}
	}
	if suffix == "" {
		return DetectedService{}
	}
	labels := strings.Split(strings.TrimSuffix(host, suffix), ".")
	ri := -1
	for i := len(labels) - 1; i >= 0; i-- {
		if regionLabel.MatchString(labels[i]) {
			ri = i
			break
		}
		// Legacy S3 endpoints put the region in the service label: s3-us-west-2.
		if r, ok := strings.CutPrefix(labels[i], "s3-"); ok && regionLabel.MatchString(r) {
			return DetectedService{Service: "s3", Region: r}
		}
	}
	if ri < 0 {
		return globalEndpoint(labels)
	}
	region := labels[ri]
	// OpenSearch puts the service after the region: search-x.us-east-1.es.
	if ri+1 < len(labels) && (labels[ri+1] == "es" || labels[ri+1] == "aoss") {
		return DetectedService{Service: labels[ri+1], Region: region}
	}
	if ri == 0 {
		return DetectedService{Region: region}
	}
	svc := labels[ri-1]
	if (svc == "dualstack" || svc == "fips") && ri >= 2 {
		svc = labels[ri-2]
	}
	if ri >= 2 && (svc == "sagemaker" && labels[ri-2] == "runtime" || svc == "dynamodb" && labels[ri-2] == "streams") {
		svc = labels[ri-2] + "." + svc
	}
	return DetectedService{Service: signingName(svc), Region: region}
}

func signingName(prefix string) string {
	prefix = strings.TrimSuffix(prefix, "-fips")
	if n, ok := signingNames[prefix]; ok {
		return n
	}
	if strings.HasPrefix(prefix, "s3express-") {
		return "s3express" // zonal endpoints: bucket.s3express-use1-az4.us-east-1
	}
	if strings.HasPrefix(prefix, "vpce-") {
		return ""
	}
	return prefix
}

// globalEndpoint handles the hosts without a region label.
func globalEndpoint(labels []string) DetectedService {
	last := labels[len(labels)-1]
	switch last {
	case "s3", "s3-external-1":
		return DetectedService{Service: "s3", Region: "us-east-1"}
	case "sts", "iam", "route53", "cloudfront", "organizations":
		return DetectedService{Service: last, Region: "us-east-1"}
	}
	return DetectedService{}
}

// ResolveSigning combines detection with explicit settings: an explicit value
// wins, and a missing one is an error naming the flag that supplies it.
func ResolveSigning(host, service, region, fallbackRegion string) (string, string, error) {
	d := DetectService(host)
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
	if region == "" {
		missing = append(missing, fmt.Sprintf("the region cannot be detected from host %q: add --region (for example --region us-east-1) or set AWS_REGION", host))
	}
	if len(missing) > 0 {
		return "", "", fmt.Errorf("%s", strings.Join(missing, "; "))
	}
	return service, region, nil
}
