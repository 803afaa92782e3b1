package proxy

import (
	"net/url"
	"testing"
)

func TestIsObjectUpload(t *testing.T) {
	tests := []struct {
		target, method, path string
		want                 bool
	}{
		{"http://127.0.0.1:7070", "PUT", "/bucket/key", true},
		{"http://127.0.0.1:7070", "PUT", "/bucket/dir/key?partNumber=2&uploadId=x", true},
		{"http://127.0.0.1:7070", "PUT", "/bucket", false},
		{"http://127.0.0.1:7070", "PUT", "/bucket/key?tagging", false},
		{"http://127.0.0.1:7070", "POST", "/bucket/key", false},
		{"https://b.s3.us-east-1.amazonaws.com", "PUT", "/key", true},
		{"https://b.s3.us-east-1.amazonaws.com", "PUT", "/", false},
		{"https://s3.us-east-1.amazonaws.com", "PUT", "/key", false},
		{"https://mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com", "PUT", "/key", true},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.target)
		rt := &Route{Target: u, Service: "s3", Region: "us-east-1", Credentials: staticCreds}
		if err := rt.prepare(); err != nil {
			t.Fatal(err)
		}
		r := newRequest(t, tt.method, tt.target+tt.path, nil)
		if got := rt.isObjectUpload(r); got != tt.want {
			t.Errorf("%s %s%s: %v, want %v", tt.method, tt.target, tt.path, got, tt.want)
		}
	}
}
