package credentials

import (
	"fmt"
	"net/http"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
)

// STSMetrics receives the latency of each HTTP call the SDK makes to STS;
// *admin.Metrics implements it.
type STSMetrics interface {
	ObserveSTSCall(operation string, d time.Duration, err error)
}

// InstrumentSTS returns a copy of client (nil means a default client) that
// reports every call the AWS SDK makes to STS through it to m: the
// operation, the time to the response headers, and whether it failed (no
// response, or an error status). Calls to other services (SSO, IMDS) pass
// through unreported. Give it as the HTTPClient of a source, an assume-role
// hop or per-caller web identity.
func InstrumentSTS(client *http.Client, m STSMetrics) *http.Client {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = stsTimer{next: next, m: m}
	return c
}

type stsTimer struct {
	next http.RoundTripper
	m    STSMetrics
}

func (s stsTimer) RoundTrip(r *http.Request) (*http.Response, error) {
	// The SDK builds its requests with the operation's context, which holds
	// the service and operation names.
	ctx := r.Context()
	if awsmiddleware.GetServiceID(ctx) != "STS" {
		return s.next.RoundTrip(r)
	}
	start := time.Now()
	resp, err := s.next.RoundTrip(r)
	d := time.Since(start)
	res := err
	if err == nil && resp.StatusCode >= 400 {
		res = fmt.Errorf("STS answered %s", resp.Status)
	}
	s.m.ObserveSTSCall(awsmiddleware.GetOperationName(ctx), d, res)
	return resp, err
}
