// Package awsendpoint tells, from an AWS endpoint's host name alone, which
// service its requests are signed for and in which region. It is the one
// place that knows AWS's host name conventions, shared by the config (which
// fills in what a route leaves out) and the proxy (which detects per request
// for host patterns); it imports nothing of signway's.
package awsendpoint

import (
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

// Endpoint is what a host name says about signing. It is comparable, so two
// detections can be compared with ==.
type Endpoint struct {
	Service string
	Region  string
	// MultiRegion is an endpoint that serves every region, an S3
	// Multi-Region Access Point: it takes SigV4A signatures over the region
	// set "*" and has no Region.
	MultiRegion bool
}

// MultiRegionSet is the SigV4A region set of a MultiRegion endpoint.
const MultiRegionSet = "*"

// Detect derives the signing service and region from an AWS endpoint host
// name, with or without a port. Fields the host doesn't say come back empty.
func Detect(host string) Endpoint {
	e := detect(host)
	if !serviceName.MatchString(e.Service) {
		e.Service = "" // a label no AWS service has: "!.us-east-1.amazonaws.com"
	}
	return e
}

// serviceName is what a signing name may look like.
var serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

func detect(host string) Endpoint {
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
		return Endpoint{}
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
			return Endpoint{Service: "s3", Region: r}
		}
	}
	if ri < 0 {
		return globalEndpoint(labels)
	}
	region := labels[ri]
	// OpenSearch puts the service after the region: search-x.us-east-1.es.
	if ri+1 < len(labels) && (labels[ri+1] == "es" || labels[ri+1] == "aoss") {
		return Endpoint{Service: labels[ri+1], Region: region}
	}
	if ri == 0 {
		return Endpoint{Region: region}
	}
	svc := labels[ri-1]
	if (svc == "dualstack" || svc == "fips") && ri >= 2 {
		svc = labels[ri-2]
	}
	if ri >= 2 && (svc == "sagemaker" && labels[ri-2] == "runtime" || svc == "dynamodb" && labels[ri-2] == "streams") {
		svc = labels[ri-2] + "." + svc
	}
	return Endpoint{Service: signingName(svc), Region: region}
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
func globalEndpoint(labels []string) Endpoint {
	last := labels[len(labels)-1]
	// ALIAS.mrap.accesspoint.s3-global.amazonaws.com
	if n := len(labels); n >= 4 && last == "s3-global" && labels[n-2] == "accesspoint" && labels[n-3] == "mrap" {
		return Endpoint{Service: "s3", MultiRegion: true}
	}
	switch last {
	case "s3", "s3-external-1":
		return Endpoint{Service: "s3", Region: "us-east-1"}
	case "sts", "iam", "route53", "cloudfront", "organizations":
		return Endpoint{Service: last, Region: "us-east-1"}
	}
	return Endpoint{}
}
