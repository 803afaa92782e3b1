package credentials

import (
	"context"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// STSMetrics receives the latency of each call the SDK makes to STS;
// *admin.Metrics implements it.
type STSMetrics interface {
	ObserveSTSCall(operation string, d time.Duration, err error)
}

// timeSTSCalls is an STS client API option reporting every attempt (a retry
// is a call of its own) to m: the operation, the time from sending the
// request to decoding the answer, and the error, an error status included.
// It sits in the deserialize step, which runs once per attempt, after
// signing; a middleware rather than an HTTP client so that the SDK's own
// client, with its CA bundle and timeouts, stays in place.
func timeSTSCalls(m STSMetrics) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("signwaySTSMetrics",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleDeserialize(ctx, in)
				m.ObserveSTSCall(awsmiddleware.GetOperationName(ctx), time.Since(start), err)
				return out, md, err
			}), middleware.Before)
	}
}
