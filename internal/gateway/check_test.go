package gateway

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/credentials"
)

func TestPrintCredentialsExpiry(t *testing.T) {
	in := time.Now().Add(time.Hour)
	for _, tt := range []struct {
		c    credentials.Credentials
		want string
	}{
		{credentials.Credentials{AccessKeyID: "AKIDLONG", SecretAccessKey: "s"}, "never (long-term keys)"},
		{credentials.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "s", SessionToken: "t"}, "unknown (temporary keys"},
		{credentials.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: in}, in.UTC().Format(time.RFC3339)},
	} {
		var out bytes.Buffer
		printCredentials(&out, nil, tt.c)
		if !strings.Contains(out.String(), "expires:       "+tt.want) || strings.Contains(out.String(), "s\n") {
			t.Errorf("%s: printed\n%s\nwant expires %q", tt.c.AccessKeyID, out.String(), tt.want)
		}
	}
}
