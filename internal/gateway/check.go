package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/signway/signway/internal/credentials"
)

// ErrNeedCallerToken is Check's answer for per-caller credentials without
// a caller's token to exchange.
var ErrNeedCallerToken = errors.New("credentials come from each caller's token")

// Check obtains credentials as a route with spec would, one hop at a time
// so that a failure names the hop, and says where each came from: what
// `signway credentials check` prints. token is one caller's token, for
// per-caller web identity. sourceFailed tells a failure of the source
// itself from one of a later role.
func Check(ctx context.Context, spec CredSpec, token string) (lines [][2]string, got credentials.Credentials, sourceFailed bool, err error) {
	if spec.Caller != nil {
		w, err := credentials.NewCallerWebIdentity(*spec.Caller)
		if err != nil {
			return nil, got, false, err
		}
		if token == "" {
			return nil, got, false, fmt.Errorf("%s: %w", w, ErrNeedCallerToken)
		}
		if got, err = w.Retrieve(ctx, token); err != nil {
			return nil, got, false, fmt.Errorf("no AWS credentials: %w", err)
		}
		sum := sha256.Sum256([]byte(token))
		return [][2]string{{"source", fmt.Sprintf("%s (%s)", w, got.Source)},
			{"caller token", "sha256 " + hex.EncodeToString(sum[:6]) + "…"}}, got, false, nil
	}
	sourceFailed = true
	_, _, err = CredentialChain(ctx, spec, nil, func(c *credentials.Cache, role string) error {
		var err error
		if got, err = c.Retrieve(ctx); err != nil {
			return fmt.Errorf("no AWS credentials: %w", err)
		}
		sourceFailed = false
		if role == "" {
			lines = append(lines, [2]string{"source", fmt.Sprintf("%s (%s)", c, got.Source)})
		} else {
			lines = append(lines, [2]string{"assumed role", role})
		}
		return nil
	})
	return lines, got, sourceFailed, err
}
