package awssign_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	sdkcreds "github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/signway/signway/awssign"
)

// A client whose requests are signed for API Gateway. The server here
// only shows what arrived; a real one is an execute-api endpoint.
func ExampleNew() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		fmt.Println(strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), strings.Contains(auth, "/eu-west-1/execute-api/aws4_request"))
		fmt.Println(r.Header.Get("X-Amz-Content-Sha256") != "")
	}))
	defer api.Close()

	tr, err := awssign.New(awssign.Options{
		Service:     "execute-api",
		Region:      "eu-west-1",
		Credentials: sdkcreds.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
	})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: tr}
	resp, err := client.Get(api.URL + "/prod/items?limit=10")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// true true
	// true
	// 200 OK
}

// Presigned URLs for S3 with SigV4A, valid in every region.
func ExampleOptions_sigV4A() {
	tr, err := awssign.New(awssign.Options{
		Service:     "s3",
		Region:      "us-east-1",
		Algorithm:   awssign.SigV4A,
		RegionSet:   []string{"*"},
		Credentials: sdkcreds.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
	})
	fmt.Println(tr != nil, err)
	// Output: true <nil>
}
