// Package accesslog gives every request an ID and writes one log line per
// request: who asked for what, what the upstream answered, how many bytes
// went each way and where the time went (credentials, signing, the
// upstream's first byte). Lines go through log/slog, so they are JSON or
// text like the rest of signway's logs. Nothing secret is logged: the
// query's signature, credential, token and API-key values are redacted and
// no header is logged at all.
package accesslog

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/signway/signway/internal/reqinfo"
	"github.com/signway/signway/internal/sigv4"
)

// Header carries the request ID: taken from the caller when it sends a
// usable one, sent upstream and returned to the caller.
const Header = "X-Request-Id"

// Options configure the middleware.
type Options struct {
	// Logger receives one line per request; nil logs nothing, but requests
	// still get IDs and the record the proxy fills.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewID makes a request ID when the caller sent none (or an unusable
	// one); 26 random base32 characters when nil.
	NewID func() string
}

// Handler wraps next: it puts a reqinfo.Info with the request ID in the
// request's context (or fills the one tracing put there), sets the ID on
// the request (so the upstream gets it) and on the response, and logs the
// request once next returns.
func Handler(next http.Handler, o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = NewID
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Everything this middleware keeps per request is one allocation.
		st := &state{}
		start := o.Now()
		id := r.Header.Get(Header)
		if !usableID(id) {
			id = o.NewID()
		}
		// The request and the response share one value slice: capped at
		// one, so an Add on either map copies it rather than spill.
		ids := []string{id}
		if v := r.Header[Header]; len(v) != 1 || v[0] != id {
			r.Header[Header] = ids
		}
		info := reqinfo.From(r.Context())
		if info == nil {
			st.info.Now = o.Now
			info = &st.info
			r = r.WithContext(reqinfo.With(r.Context(), info))
		}
		info.ID = id
		if r.Body != nil && r.Body != http.NoBody {
			st.in.ReadCloser = r.Body
			r.Body = &st.in
		}
		rw := &st.rw
		rw.ResponseWriter, rw.ids = w, ids
		// Set now too: a protocol switch (WebSocket) hijacks the connection
		// and writes this header map without calling WriteHeader.
		w.Header()[Header] = ids
		next.ServeHTTP(rw, r)
		info.Status = rw.code()
		if rw.status == 0 && info.UpstreamStatus == http.StatusSwitchingProtocols {
			info.Status = http.StatusSwitchingProtocols
		}
		if o.Logger == nil {
			return
		}
		o.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs(r, info, rw, st.in.n.Load(), o.Now().Sub(start))...)
	})
}

// state is what Handler keeps for one request, allocated together.
type state struct {
	info reqinfo.Info // unless tracing made one already
	rw   responseWriter
	in   countingBody // when the request has a body
}

// NewID returns a new request ID: 26 characters of RFC 4648 base32, like
// crypto/rand.Text, holding 128 random bits. An ID names a request in logs
// and needs to be unique, not secret, so it comes from math/rand/v2's
// generator (seeded by the runtime from the OS), a fraction of what
// crypto/rand costs per request.
func NewID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b [26]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := range b {
		b[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(b[:])
}

func attrs(r *http.Request, info *reqinfo.Info, rw *responseWriter, bytesIn int64, total time.Duration) []slog.Attr {
	a := make([]slog.Attr, 0, 18)
	a = append(a,
		slog.String("request_id", info.ID),
		slog.String("route", info.Route),
		slog.String("caller", info.Caller),
		slog.String("remote", r.RemoteAddr),
		slog.String("method", r.Method),
		slog.String("path", Path(r)),
		slog.Int("status", info.Status),
		slog.Int("upstream_status", info.UpstreamStatus),
		slog.Int64("bytes_in", bytesIn),
		slog.Int64("bytes_out", rw.n),
		ms("duration_ms", total),
		ms("credentials_ms", info.Duration(reqinfo.Credentials)),
		ms("signing_ms", info.Duration(reqinfo.Signing)),
		ms("upstream_ttfb_ms", info.Duration(reqinfo.Upstream)),
	)
	if info.TraceID != "" {
		a = append(a, slog.String("trace_id", info.TraceID))
	}
	return a
}

// ms is a duration in milliseconds with microsecond precision: one unit
// that reads the same in JSON and text and sums in any log tool.
func ms(key string, d time.Duration) slog.Attr {
	return slog.Float64(key, float64(d.Microseconds())/1000)
}

// Path is the request's path and query as the caller sent them, with the
// values of secret query parameters (signatures, credentials, tokens, API
// keys) redacted.
func Path(r *http.Request) string {
	p := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		p += "?" + sigv4.RedactQuery(r.URL.RawQuery)
	}
	return p
}

// usableID accepts what request IDs look like (UUIDs, ULIDs, hex, AWS and
// load-balancer trace IDs) and refuses anything that could forge or break
// a log line.
func usableID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' || c == '=' || c == ';' || c == '/' || c == '+') {
			return false
		}
	}
	return true
}

// countingBody counts what was read of the caller's body. The upstream
// transport reads it on its own goroutine, which may still be at it when
// the handler returns (an upstream that answered early).
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// responseWriter counts the bytes written and puts the request ID on the
// response, replacing any the upstream sent. Unwrap keeps Flush, Hijack and
// the rest of http.ResponseController working through it.
type responseWriter struct {
	http.ResponseWriter
	ids    []string // the request ID, as the header's value
	status int
	n      int64
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		// The upstream's headers were added to the map: one of its own
		// would sit beside (or, if the handler set it, instead of) ours.
		if h := w.ResponseWriter.Header(); len(h[Header]) != 1 || h[Header][0] != w.ids[0] {
			h[Header] = w.ids
		}
		if code >= 200 {
			w.status = code
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) code() int {
	if w.status == 0 {
		// Nothing written: net/http answers 200 with an empty body.
		return http.StatusOK
	}
	return w.status
}
