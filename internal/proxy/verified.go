package proxy

import (
	"context"
	"io"

	"github.com/signway/signway/internal/sigv4"
)

// verifiedKey carries the caller's own SigV4 signature, verified by inbound
// authentication, into the signing transport.
type verifiedKey struct{}

// WithVerifiedSignature records that the caller signed the request with v.
// The caller's aws-chunked body then has its chunk and trailer signatures
// checked, chunk by chunk, as it streams through, instead of only being
// unwrapped: a chunk changed in transit stops the upload before its data
// is sent on.
func WithVerifiedSignature(ctx context.Context, v *sigv4.Verified) context.Context {
	return context.WithValue(ctx, verifiedKey{}, v)
}

// callerChunkDecoder unwraps the caller's aws-chunked body, checking its
// chunk signatures when the caller's signature was verified.
func callerChunkDecoder(ctx context.Context, body io.Reader, declared int64, trailer string) (*sigv4.ChunkDecoder, error) {
	if v, _ := ctx.Value(verifiedKey{}).(*sigv4.Verified); v != nil && sigv4.IsStreamingMarker(v.PayloadHash) {
		d, err := sigv4.NewVerifiedChunkDecoder(body, declared, trailer, v)
		if err != nil {
			return nil, payloadErr(err)
		}
		return d, nil
	}
	return sigv4.NewChunkDecoder(body, declared, trailer), nil
}
