package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/signway/signway/internal/testenv"
)

// TestE2EUserMetadataKeepsItsCase is issue 12 item 9: S3 (versitygw too)
// sends user metadata names in lower case; Go canonicalises them to
// X-Amz-Meta-Foo, and boto3 then returned {'Foo': 'bar'} for what was
// stored as foo. boto3 through signway must see what it sees directly.
func TestE2EUserMetadataKeepsItsCase(t *testing.T) {
	py, err := exec.LookPath("python3")
	testenv.Require(t, "python3", err)
	if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
		testenv.Require(t, "boto3", fmt.Errorf("%v: %s (pip install boto3)", err, out))
	}
	e := newS3Env(t)
	script := `
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id="caller-holds-no-keys", aws_secret_access_key="x",
    config=Config(s3={"addressing_style": "path"}))
s3.put_object(Bucket="e2e", Key="meta.txt", Body=b"hello", Metadata={"foo": "bar", "Mixed-Case": "v"})
print("head", sorted(s3.head_object(Bucket="e2e", Key="meta.txt")["Metadata"].items()))
print("get", sorted(s3.get_object(Bucket="e2e", Key="meta.txt")["Metadata"].items()))
s3.copy_object(Bucket="e2e", Key="copy.txt", CopySource="e2e/meta.txt")
print("copy", sorted(s3.head_object(Bucket="e2e", Key="copy.txt")["Metadata"].items()))
`
	out, err := exec.Command(py, "-c", script, e.proxyURL).CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	want := "[('foo', 'bar'), ('mixed-case', 'v')]"
	for _, op := range []string{"head", "get", "copy"} {
		if !strings.Contains(string(out), op+" "+want) {
			t.Errorf("%s: boto3 saw metadata other than %s:\n%s", op, want, out)
		}
	}
}
