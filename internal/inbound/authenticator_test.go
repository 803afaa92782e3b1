package inbound

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/sigv4"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const (
	keyRep   = "reporting-key"
	akid     = "SWAYAGENT7EXAMPLE"
	secret7  = "agent-7-secret"
	akidOut  = "SWAYOUTSIDER0001"
	hashedID = "hashed"
)

func testCallers(t testing.TB, lim *Limiters) *Callers {
	t.Helper()
	sum := sha256.Sum256([]byte("hashed-key"))
	c, err := NewCallers(CallersOptions{Limiters: lim, Callers: []config.Caller{
		{ID: "reporting", APIKeys: []config.APIKey{{Key: config.NewSecret(keyRep)}}, RateLimit: config.RateLimit{RequestsPerSecond: 1, Burst: 2}},
		{ID: "agent-7", SigV4Keys: []config.SigV4Key{{AccessKeyID: akid, SecretAccessKey: config.NewSecret(secret7)}}},
		{ID: "outsider", SigV4Keys: []config.SigV4Key{{AccessKeyID: akidOut, SecretAccessKey: config.NewSecret(secret7)}}},
		{ID: hashedID, APIKeys: []config.APIKey{{SHA256: hex.EncodeToString(sum[:])}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newAuth(t testing.TB, a config.Auth, now *time.Time) *Authenticator {
	t.Helper()
	if a.APIKeyHeader == "" {
		a.APIKeyHeader = "api-key"
	}
	au, err := New(Options{Route: "data", Auth: a, Callers: testCallers(t, NewLimiters(LimitersOptions{})), S3: true,
		Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return au
}

func signed(t testing.TB, method, target, keyID, secret string, at time.Time, presign time.Duration) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	s := sigv4.NewSigner(nil)
	p := &sigv4.Params{Service: "s3", Region: "us-east-1", PayloadHash: sigv4.UnsignedPayload, ContentSHA256Header: presign == 0}
	c := sigv4.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
	var err error
	if presign > 0 {
		p.PayloadHash = sigv4.UnsignedPayload
		err = s.Presign(r, c, p, at, presign)
	} else {
		err = s.Sign(r, c, p, at)
	}
	if err != nil {
		t.Fatal(err)
	}
	// As the server receives it.
	out := httptest.NewRequest(method, r.URL.RequestURI(), nil)
	out.Host = r.Host
	out.Header = r.Header.Clone()
	return out
}

func TestAuthenticate(t *testing.T) {
	now := t0
	all := config.Auth{Methods: []config.AuthMethod{config.AuthAPIKey, config.AuthSigV4}, Allow: []string{"reporting", "agent-7", hashedID}}
	withKey := func(k string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/b/k", nil)
		r.Header.Set("Api-Key", k)
		return r
	}
	for _, tc := range []struct {
		name       string
		auth       config.Auth
		req        func() *http.Request
		caller     string
		status     int
		code       string
		reason     Reason
		challenged bool
	}{
		{"api key", all, func() *http.Request { return withKey(keyRep) }, "reporting", 0, "", "", false},
		{"hashed api key", all, func() *http.Request { return withKey("hashed-key") }, hashedID, 0, "", "", false},
		{"wrong api key", all, func() *http.Request { return withKey("guess") }, "", 401, "InvalidApiKey", ReasonBadKey, true},
		{"two api keys", all, func() *http.Request { r := withKey(keyRep); r.Header.Add("Api-Key", "x"); return r }, "", 401, "Unauthorized", ReasonMalformed, true},
		{"nothing", all, func() *http.Request { return httptest.NewRequest("GET", "/b/k", nil) }, "", 401, "Unauthorized", ReasonMissing, true},
		{"sigv4 header", all, func() *http.Request { return signed(t, "GET", "http://gw.local/b/k", akid, secret7, t0, 0) }, "agent-7", 0, "", "", false},
		{"sigv4 presigned", all, func() *http.Request {
			return signed(t, "GET", "http://gw.local/b/k", akid, secret7, t0.Add(-time.Minute), time.Hour)
		}, "agent-7", 0, "", "", false},
		{"sigv4 wrong secret", all, func() *http.Request { return signed(t, "GET", "http://gw.local/b/k", akid, "nope", t0, 0) }, "", 403, "SignatureDoesNotMatch", ReasonSignature, false},
		{"sigv4 unknown key", all, func() *http.Request {
			return signed(t, "GET", "http://gw.local/b/k", "SWAYNOBODY000001", secret7, t0, 0)
		}, "", 403, "InvalidAccessKeyId", ReasonUnknownKey, false},
		{"sigv4 skewed", all, func() *http.Request {
			return signed(t, "GET", "http://gw.local/b/k", akid, secret7, t0.Add(-16*time.Minute), 0)
		}, "", 403, "RequestTimeTooSkewed", ReasonSkew, false},
		{"presign expired", all, func() *http.Request {
			return signed(t, "GET", "http://gw.local/b/k", akid, secret7, t0.Add(-2*time.Hour), time.Hour)
		}, "", 403, "AccessDenied", ReasonExpired, false},
		{"sigv4 not allowed", all, func() *http.Request { return signed(t, "GET", "http://gw.local/b/k", akidOut, secret7, t0, 0) }, "", 403, "AccessDenied", ReasonNotAllowed, false},
		{"sigv4 on api-key route", config.Auth{Methods: []config.AuthMethod{config.AuthAPIKey}}, func() *http.Request { return signed(t, "GET", "http://gw.local/b/k", akid, secret7, t0, 0) }, "", 401, "Unauthorized", ReasonMethod, true},
		{"bearer on sigv4 route", all, func() *http.Request {
			r := httptest.NewRequest("GET", "/b/k", nil)
			r.Header.Set("Authorization", "Bearer abc")
			return r
		}, "", 401, "Unauthorized", ReasonMethod, true},
		{"sigv2", all, func() *http.Request {
			return httptest.NewRequest("GET", "/b/k?AWSAccessKeyId=X&Signature=abc&Expires=1", nil)
		}, "", 400, "InvalidRequest", ReasonMalformed, false},
		{"empty allow admits all", config.Auth{Methods: []config.AuthMethod{config.AuthSigV4}}, func() *http.Request { return signed(t, "GET", "http://gw.local/b/k", akidOut, secret7, t0, 0) }, "outsider", 0, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuth(t, tc.auth, &now)
			res, err := a.Authenticate(tc.req())
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if res.Caller.ID != tc.caller {
					t.Errorf("caller = %q, want %q", res.Caller.ID, tc.caller)
				}
				return
			}
			if err == nil {
				t.Fatalf("admitted %q", res.Caller.ID)
			}
			if err.Status != tc.status || err.Code != tc.code || err.Reason != tc.reason {
				t.Errorf("got %d %s %s (%s), want %d %s %s", err.Status, err.Code, err.Reason, err.Message, tc.status, tc.code, tc.reason)
			}
			if (len(err.Challenges) > 0) != tc.challenged {
				t.Errorf("challenges = %v", err.Challenges)
			}
			for _, leak := range []string{keyRep, secret7, "hashed-key", "outsider\"", "reporting\""} {
				if strings.Contains(err.Message, leak) && !strings.Contains(tc.name, "not allowed") {
					t.Errorf("message %q reveals %q", err.Message, leak)
				}
			}
		})
	}
}

// TestHandlerStripsKeyAndRefusesBeforeProxy: a refused request never
// reaches the next handler; an admitted one arrives without the API key
// header and with its caller in the context.
func TestHandlerStripsKeyAndRefusesBeforeProxy(t *testing.T) {
	now := t0
	a := newAuth(t, config.Auth{Methods: []config.AuthMethod{config.AuthAPIKey}}, &now)
	var got *http.Request
	h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r }), nil)

	r := httptest.NewRequest("GET", "/b/k", nil)
	r.Header.Set("api-key", keyRep)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got == nil {
		t.Fatal("admitted request did not reach the proxy")
	}
	if got.Header.Get("Api-Key") != "" {
		t.Error("the API key header would be sent upstream")
	}
	if c := CallerFrom(got.Context()); c == nil || c.ID != "reporting" || c.Method != MethodAPIKey {
		t.Errorf("caller in context = %+v", c)
	}
	if r.Header.Get("Api-Key") != keyRep {
		t.Error("the caller's own request was modified")
	}

	got = nil
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/b/k", nil))
	if got != nil || w.Code != 401 || w.Header().Get("WWW-Authenticate") != `APIKey realm="signway", header="api-key"` ||
		!strings.Contains(w.Body.String(), "<Code>Unauthorized</Code>") {
		t.Errorf("refusal: reached=%v %d %v %s", got != nil, w.Code, w.Header(), w.Body)
	}
}

func TestRateLimit(t *testing.T) {
	now := t0
	a := newAuth(t, config.Auth{Methods: []config.AuthMethod{config.AuthAPIKey}}, &now)
	req := func() *Error {
		r := httptest.NewRequest("GET", "/b/k", nil)
		r.Header.Set("api-key", keyRep)
		_, err := a.Authenticate(r)
		return err
	}
	// rate 1/s, burst 2: two at once, the third waits a second.
	for i := range 2 {
		if err := req(); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	err := req()
	if err == nil || err.Status != 429 || err.Code != "SlowDown" || err.RetryAfter != time.Second {
		t.Fatalf("third request: %+v", err)
	}
	w := httptest.NewRecorder()
	err.Write(w, false)
	if w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), `"code":"SlowDown"`) {
		t.Errorf("429 answer: %v %s", w.Header(), w.Body)
	}
	now = now.Add(time.Second)
	if err := req(); err != nil {
		t.Errorf("after a second: %v", err)
	}
	// The other callers are not limited by this one.
	r := signed(t, "GET", "http://gw.local/b/k", akid, secret7, now, 0)
	a2 := newAuth(t, config.Auth{Methods: []config.AuthMethod{config.AuthSigV4}}, &now)
	for range 5 {
		if _, err := a2.Authenticate(r); err != nil {
			t.Fatalf("unlimited caller: %v", err)
		}
	}
}

// TestLimitersSurviveReload: a new Callers from the same pool keeps the
// bucket, so a reload does not hand out a fresh burst.
func TestLimitersSurviveReload(t *testing.T) {
	lim := NewLimiters(LimitersOptions{})
	c1, c2 := testCallers(t, lim), testCallers(t, lim)
	if c1.byID["reporting"].limiter != c2.byID["reporting"].limiter {
		t.Error("a reload made a new bucket")
	}
}

func TestNewCallersErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		callers []config.Caller
		want    string
	}{
		{"same api key", []config.Caller{{ID: "a", APIKeys: []config.APIKey{{Key: config.NewSecret("k")}}}, {ID: "b", APIKeys: []config.APIKey{{Key: config.NewSecret("k")}}}}, "the same key as"},
		{"missing key file", []config.Caller{{ID: "a", APIKeys: []config.APIKey{{Key: config.FileSecret("/nonexistent/key")}}}}, "reading secret file"},
		{"empty secret", []config.Caller{{ID: "a", SigV4Keys: []config.SigV4Key{{AccessKeyID: akid}}}}, "empty"},
		{"own credentials unsupported", []config.Caller{{ID: "a", Credentials: config.Credentials{Source: config.SourceEnv}}}, "own credentials are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCallers(CallersOptions{Callers: tc.callers})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\"k\"") {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
}

func TestErrorWriteXML(t *testing.T) {
	w := httptest.NewRecorder()
	(&Error{Status: 403, Code: "SignatureDoesNotMatch", Message: "m", CanonicalRequest: "GET\n/\n", StringToSign: "AWS4"}).Write(w, true)
	body, _ := io.ReadAll(w.Body)
	if w.Code != 403 || w.Header().Get("Content-Type") != "application/xml" ||
		!strings.Contains(string(body), "<Code>SignatureDoesNotMatch</Code>") || !strings.Contains(string(body), "<CanonicalRequest>GET&#xA;/&#xA;</CanonicalRequest>") {
		t.Errorf("%d %v %s", w.Code, w.Header(), body)
	}
}

func BenchmarkAPIKey(b *testing.B) {
	now := t0
	a := newAuth(b, config.Auth{Methods: []config.AuthMethod{config.AuthAPIKey}}, &now)
	r := httptest.NewRequest("GET", "/b/k", nil)
	r.Header.Set("api-key", "hashed-key")
	loopCPU(b, func() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkSigV4VerifyGET against BenchmarkSigV4SignGET: the goal is that
// verifying a caller's GET costs at most twice signing one.
func BenchmarkSigV4VerifyGET(b *testing.B) {
	now := t0
	a := newAuth(b, config.Auth{Methods: []config.AuthMethod{config.AuthSigV4}}, &now)
	r := signed(b, "GET", "http://gw.local/bucket/some/key.txt?versionId=3", akid, secret7, t0, 0)
	loopCPU(b, func() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkSigV4SignGET(b *testing.B) {
	s := sigv4.NewSigner(nil)
	c := sigv4.Credentials{AccessKeyID: akid, SecretAccessKey: secret7}
	p := &sigv4.Params{Service: "s3", Region: "us-east-1", PayloadHash: sigv4.UnsignedPayload, ContentSHA256Header: true}
	r := httptest.NewRequest("GET", "http://gw.local/bucket/some/key.txt?versionId=3", nil)
	loopCPU(b, func() {
		r.Header = http.Header{}
		if err := s.Sign(r, c, p, t0); err != nil {
			b.Fatal(err)
		}
	})
}

type recMetrics struct{ failures, requests []string }

func (m *recMetrics) AuthFailure(route, reason string) {
	m.failures = append(m.failures, route+" "+reason)
}
func (m *recMetrics) CallerRequest(route, caller string, status int) {
	m.requests = append(m.requests, fmt.Sprintf("%s %s %d", route, caller, status))
}

// TestHandlerMetrics: refusals by reason, admitted requests by caller with
// the status the proxy answered; the caller label stays bounded.
func TestHandlerMetrics(t *testing.T) {
	m := &recMetrics{}
	a, err := New(Options{Route: "data", Auth: config.Auth{Methods: []config.AuthMethod{config.AuthAPIKey}, APIKeyHeader: "api-key"},
		Callers: testCallers(t, nil), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }), nil)
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("api-key", keyRep)
	h.ServeHTTP(httptest.NewRecorder(), r)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	if fmt.Sprint(m.requests) != "[data reporting 404]" || fmt.Sprint(m.failures) != "[data missing]" {
		t.Errorf("requests %v, failures %v", m.requests, m.failures)
	}
	if got := a.callerLabel(&Caller{ID: "some-jwt-subject"}); got != "other" {
		t.Errorf("an undeclared JWT subject labelled %q", got)
	}
}
