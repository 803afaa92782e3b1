package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// rawResponseHead sends a GET and returns the response's status line and
// headers exactly as they came over the wire.
func rawResponseHead(t *testing.T, base, path string) string {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr)
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			return head.String()
		}
		head.WriteString(line)
	}
}

func TestUserMetadataNamesKeepS3Case(t *testing.T) {
	for _, tt := range []struct {
		service string
		want    []string
	}{
		{"s3", []string{"x-amz-meta-foo: bar", "x-amz-meta-mixed-case: v", "X-Amz-Request-Id: 1"}},
		{"es", []string{"X-Amz-Meta-Foo: bar"}}, // only S3 is known to send them lower case
	} {
		t.Run(tt.service, func(t *testing.T) {
			f := newFixture(t, tt.service, nil)
			f.backend.handler = func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h["x-amz-meta-foo"] = []string{"bar"} // as S3 sends it
				h["x-amz-meta-mixed-case"] = []string{"v"}
				h.Set("X-Amz-Request-Id", "1")
			}
			head := rawResponseHead(t, f.proxy.URL, "/bucket/key")
			for _, w := range tt.want {
				if !strings.Contains(head, w+"\r\n") {
					t.Errorf("response lacks %q:\n%s", w, head)
				}
			}
		})
	}
}
