package proxy

import (
	"net/http"
	"strings"
)

// metaPrefix is the canonical form Go gives S3's x-amz-meta- names.
const metaPrefix = "X-Amz-Meta-"

// lowerUserMetadata gives user metadata names back the case S3 sends them
// in. S3 stores and returns them in lower case (x-amz-meta-foo); Go's
// transport, and ReverseProxy copying the response, canonicalise them to
// X-Amz-Meta-Foo, and SDKs that read the name after the prefix verbatim
// (boto3: {'Foo': 'bar'}) then see a different key than was stored. Called
// on the caller's header map just before it is written, after the copy.
func lowerUserMetadata(h http.Header) {
	for k, v := range h {
		if len(k) > len(metaPrefix) && strings.HasPrefix(k, metaPrefix) {
			delete(h, k)
			lk := strings.ToLower(k) // no longer has the prefix: not visited again
			h[lk] = append(h[lk], v...)
		}
	}
}
