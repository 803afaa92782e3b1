package admin

import "testing"

func TestDialAddress(t *testing.T) {
	for in, want := range map[string]string{"9090": "127.0.0.1:9090", ":9090": "127.0.0.1:9090", "0.0.0.0:9090": "127.0.0.1:9090",
		"[::]:9090": "[::1]:9090", "10.0.0.1:9090": "10.0.0.1:9090", "localhost:9090": "localhost:9090"} {
		if got, err := DialAddress(in); err != nil || got != want {
			t.Errorf("DialAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a:b:c", "localhost:"} {
		if got, err := DialAddress(in); err == nil {
			t.Errorf("DialAddress(%q) = %q, want an error", in, got)
		}
	}
}
