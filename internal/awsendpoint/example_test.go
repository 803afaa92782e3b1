package awsendpoint_test

import (
	"fmt"

	"github.com/signway/signway/internal/awsendpoint"
)

func ExampleDetect() {
	for _, host := range []string{
		"my-bucket.s3.eu-west-1.amazonaws.com",
		"abc123.execute-api.us-east-2.amazonaws.com:443",
		"mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com",
		"minio.internal",
	} {
		fmt.Printf("%+v\n", awsendpoint.Detect(host))
	}
	// Output:
	// {Service:s3 Region:eu-west-1 MultiRegion:false}
	// {Service:execute-api Region:us-east-2 MultiRegion:false}
	// {Service:s3 Region: MultiRegion:true}
	// {Service: Region: MultiRegion:false}
}
