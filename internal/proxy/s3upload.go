package proxy

import (
	"net/http"
	"strings"
)

// isObjectUpload reports a PutObject or UploadPart: a PUT to an object key
// with no query but partNumber, uploadId and x-id. Bucket-level PUTs (policy,
// tagging, ...) carry small XML bodies that are hashed instead.
func (rt *Route) isObjectUpload(r *http.Request) bool {
	if r.Method != http.MethodPut || r.Header.Get("X-Amz-Copy-Source") != "" {
		return false
	}
	for q := r.URL.RawQuery; q != ""; {
		var piece string
		piece, q, _ = strings.Cut(q, "&")
		k, _, _ := strings.Cut(piece, "=")
		if k != "" && k != "partNumber" && k != "uploadId" && k != "x-id" {
			return false
		}
	}
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	if rt.virtualHosted {
		return path != ""
	}
	bucket, key, _ := strings.Cut(path, "/")
	return bucket != "" && key != ""
}

// virtualHostedS3 reports an S3 endpoint whose host names the bucket (or
// access point), so the whole path is the key.
func virtualHostedS3(host string) bool {
	host = strings.ToLower(host)
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	first, rest, _ := strings.Cut(host, ".")
	return strings.HasPrefix(rest, "s3") && !strings.HasPrefix(first, "s3") ||
		strings.Contains(host, ".mrap.accesspoint.")
}
