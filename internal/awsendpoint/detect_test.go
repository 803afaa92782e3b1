package awsendpoint

import (
	"strings"
	"testing"
)

func TestDetectService(t *testing.T) {
	tests := []struct {
		host, service, region string
	}{
		{"examplebucket.s3.us-west-2.amazonaws.com", "s3", "us-west-2"},
		{"s3.eu-central-1.amazonaws.com", "s3", "eu-central-1"},
		{"examplebucket.s3.amazonaws.com", "s3", "us-east-1"},
		{"s3.amazonaws.com", "s3", "us-east-1"},
		{"s3-us-west-2.amazonaws.com", "s3", "us-west-2"},
		{"bucket.s3.dualstack.ap-south-1.amazonaws.com", "s3", "ap-south-1"},
		{"s3-fips.us-east-2.amazonaws.com", "s3", "us-east-2"},
		{"bucket.s3-fips.dualstack.us-east-2.amazonaws.com", "s3", "us-east-2"},
		{"myap-123456789012.s3-accesspoint.eu-west-1.amazonaws.com", "s3", "eu-west-1"},
		{"myap-123456789012.s3-accesspoint.dualstack.eu-west-1.amazonaws.com", "s3", "eu-west-1"},
		{"123456789012.s3-control.us-east-1.amazonaws.com", "s3", "us-east-1"},
		{"ol-123.s3-object-lambda.us-east-1.amazonaws.com", "s3-object-lambda", "us-east-1"},
		{"ap-123.op-01.s3-outposts.us-west-2.amazonaws.com", "s3-outposts", "us-west-2"},
		{"bucket--use1-az4--x-s3.s3express-use1-az4.us-east-1.amazonaws.com", "s3express", "us-east-1"},
		{"bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com", "s3", "us-east-1"},
		{"abc123.execute-api.eu-west-1.amazonaws.com", "execute-api", "eu-west-1"},
		{"abcdefg.lambda-url.us-east-2.on.aws", "lambda", "us-east-2"},
		{"search-logs-abc.us-east-1.es.amazonaws.com", "es", "us-east-1"},
		{"vpc-logs-abc.eu-west-3.es.amazonaws.com", "es", "eu-west-3"},
		{"abc123.us-east-1.aoss.amazonaws.com", "aoss", "us-east-1"},
		{"dynamodb.us-west-2.amazonaws.com", "dynamodb", "us-west-2"},
		{"dynamodb-fips.us-gov-west-1.amazonaws.com", "dynamodb", "us-gov-west-1"},
		{"streams.dynamodb.us-west-2.amazonaws.com", "dynamodb", "us-west-2"},
		{"bedrock-runtime.us-east-1.amazonaws.com", "bedrock", "us-east-1"},
		{"sts.amazonaws.com", "sts", "us-east-1"},
		{"sts.ap-southeast-2.amazonaws.com", "sts", "ap-southeast-2"},
		{"s3.cn-north-1.amazonaws.com.cn", "s3", "cn-north-1"},
		{"bucket.s3.cn-northwest-1.amazonaws.com.cn", "s3", "cn-northwest-1"},
		{"abc.execute-api.cn-north-1.amazonaws.com.cn", "execute-api", "cn-north-1"},
		{"s3.us-gov-west-1.amazonaws.com", "s3", "us-gov-west-1"},
		{"abc.execute-api.us-gov-east-1.amazonaws.com", "execute-api", "us-gov-east-1"},
		{"sqs.us-east-1.amazonaws.com:443", "sqs", "us-east-1"},
		{"S3.US-WEST-2.AMAZONAWS.COM.", "s3", "us-west-2"},
		{"s3.dualstack.us-east-1.api.aws", "s3", "us-east-1"},
		{"!.aa-a-0.amazonaws.com", "", "aa-a-0"},
		{"a_b.us-east-1.amazonaws.com", "", "us-east-1"},
		{"localhost:9000", "", ""},
		{"example.com", "", ""},
		{"127.0.0.1:7070", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got := Detect(tt.host)
			if got.Service != tt.service || got.Region != tt.region || got.MultiRegion {
				t.Errorf("Detect(%q) = %+v, want service %q region %q", tt.host, got, tt.service, tt.region)
			}
		})
	}
}

func TestDetectMultiRegionAccessPoint(t *testing.T) {
	for _, host := range []string{
		"mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com",
		"MFZWI23GNJVGW.MRAP.ACCESSPOINT.S3-GLOBAL.AMAZONAWS.COM.",
		"mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com:443",
	} {
		t.Run(host, func(t *testing.T) {
			want := Endpoint{Service: "s3", MultiRegion: true}
			if got := Detect(host); got != want {
				t.Errorf("Detect(%q) = %+v, want %+v", host, got, want)
			}
		})
	}
	// Only the whole mrap.accesspoint.s3-global suffix is multi-region.
	for _, host := range []string{"accesspoint.s3-global.amazonaws.com", "x.mrap.s3-global.amazonaws.com", "mrap.accesspoint.s3.us-east-1.amazonaws.com"} {
		if got := Detect(host); got.MultiRegion {
			t.Errorf("Detect(%q) = %+v, want not multi-region", host, got)
		}
	}
}

// FuzzDetect: any host, however malformed, gives an answer without
// panicking; the answer ignores case, a trailing dot and the port; and a
// multi-region endpoint is S3 without a region.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{"bucket.s3.us-west-2.amazonaws.com", "s3-us-west-2.amazonaws.com", "x.mrap.accesspoint.s3-global.amazonaws.com",
		"search-a.us-east-1.es.amazonaws.com", "a.lambda-url.us-east-2.on.aws", ".amazonaws.com", "..", "[::1]:80", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		got := Detect(host)
		if got.Service != "" && !serviceName.MatchString(got.Service) {
			t.Errorf("Detect(%q) = %+v: not a signing name", host, got)
		}
		if got.MultiRegion && (got.Service != "s3" || got.Region != "") {
			t.Errorf("Detect(%q) = %+v: multi-region but not S3 without a region", host, got)
		}
		// The equivalent spellings, checked on plain ASCII names only.
		for i := range len(host) {
			if c := host[i]; c >= 0x80 || c == ':' || c == '[' || c == ']' || c == '%' {
				return
			}
		}
		if strings.HasSuffix(host, ".") {
			return
		}
		for _, v := range []string{strings.ToUpper(host), host + ".", host + ":443"} {
			if other := Detect(v); other != got {
				t.Errorf("Detect(%q) = %+v, but Detect(%q) = %+v", host, got, v, other)
			}
		}
	})
}
