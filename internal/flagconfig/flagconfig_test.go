package flagconfig

import (
	"strings"
	"testing"
)

func TestResolveSigning(t *testing.T) {
	tests := []struct {
		name, host, service, region, fallback string
		wantSvc, wantRegion, wantErr          string
	}{
		{"detected", "bucket.s3.us-west-2.amazonaws.com", "", "", "", "s3", "us-west-2", ""},
		{"flags override", "bucket.s3.us-west-2.amazonaws.com", "s3-object-lambda", "eu-west-1", "", "s3-object-lambda", "eu-west-1", ""},
		{"fallback region", "localhost:9000", "s3", "", "us-east-1", "s3", "us-east-1", ""},
		{"nothing", "localhost:9000", "", "", "", "", "", "add --service"},
		{"no region", "localhost:9000", "es", "", "", "", "", "add --region"},
		{"multi-region access point", "mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com", "", "", "", "s3", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, region, err := resolveSigning(tt.host, tt.service, tt.region, tt.fallback)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || svc != tt.wantSvc || region != tt.wantRegion {
				t.Fatalf("got %q %q %v, want %q %q", svc, region, err, tt.wantSvc, tt.wantRegion)
			}
		})
	}
}
