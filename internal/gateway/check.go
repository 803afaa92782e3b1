package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/credentials"
)

// ErrNeedCallerToken is CheckCredentials' answer for per-caller credentials without
// a caller's token to exchange.
var ErrNeedCallerToken = errors.New("credentials come from each caller's token")

// CheckCredentials is `signway credentials check`: it obtains credentials
// as a route with spec would and prints on w where they came from, the
// access key ID and when they expire (never the secret or the session
// token), or returns an error that says where to look. token is one
// caller's token, for per-caller web identity.
func CheckCredentials(ctx context.Context, spec CredSpec, token string, w io.Writer) error {
	lines, got, sourceFailed, err := check(ctx, spec, token)
	switch {
	case err != nil && sourceFailed:
		return fmt.Errorf("%w%s%s", err, missingSecret(spec.Source.Source), hint(spec.Source.Source))
	case err != nil:
		return err
	}
	printCredentials(w, lines, got)
	return nil
}

// check obtains credentials as a route with spec would, one hop at a time
// so that a failure names the hop, and says where each came from.
// sourceFailed tells a failure of the source itself from one of a later
// role.
func check(ctx context.Context, spec CredSpec, token string) (lines [][2]string, got credentials.Credentials, sourceFailed bool, err error) {
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

// printCredentials never prints the secret or the session token.
func printCredentials(w io.Writer, lines [][2]string, c credentials.Credentials) {
	exp := "never (long-term keys)"
	switch {
	case c.CanExpire:
		exp = fmt.Sprintf("%s (in %s)", c.Expires.UTC().Format(time.RFC3339), time.Until(c.Expires).Round(time.Second))
	case c.SessionToken != "":
		// A session token means temporary keys, whatever the source says.
		exp = "unknown (temporary keys with a session token, but the source gives no expiry)"
	}
	lines = append(lines, [2]string{"access key ID", c.AccessKeyID}, [2]string{"expires", exp})
	for _, l := range lines {
		fmt.Fprintf(w, "%-14s %s\n", l[0]+":", l[1])
	}
}

// hint says where to look when the environment or the default chain gave
// nothing, the common first-run failures.
func hint(source config.CredentialSource) string {
	if source != "" && source != config.SourceDefault {
		return ""
	}
	return "\n(the default chain tried environment variables, the shared config and credentials files, SSO, credential_process, a web identity token file, container credentials and IMDS; see docs/credentials.md)"
}

// missingSecret names the missing half of environment keys: the SDK only
// says the pair is incomplete.
func missingSecret(source config.CredentialSource) string {
	if source != "" && source != config.SourceDefault && source != config.SourceEnv {
		return ""
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") != "" && os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
		return "\nAWS_ACCESS_KEY_ID is set but the secret key is missing: set AWS_SECRET_ACCESS_KEY too"
	}
	return ""
}
