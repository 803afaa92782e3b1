package proxy

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// NewSigningTransport returns the signing RoundTripper the proxy uses for
// rt, sending through base: for embedding signway's signing (the public
// awssign package) without a reverse proxy around it. rt is prepared (its
// invariants checked) and must not be changed afterwards. keys may be
// shared between transports; now is the signing clock (time.Now when nil).
func NewSigningTransport(rt *Route, base http.RoundTripper, keys *sigv4.KeyCache, now func() time.Time) (http.RoundTripper, error) {
	if err := rt.prepare(); err != nil {
		return nil, err
	}
	if rt.spoolBudget == nil {
		rt.spoolBudget = NewSpoolBudget(0) // as New does: the default cap on memory for hashed bodies
	}
	if now == nil {
		now = time.Now
	}
	return &signingTransport{route: rt, base: base, signer: sigv4.NewSigner(keys), now: now,
		metrics: nopMetrics{}, log: slog.New(slog.DiscardHandler), backoff: retryBackoff}, nil
}
