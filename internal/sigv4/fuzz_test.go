package sigv4

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"
)

// validToken and validFieldValue are golang.org/x/net/http/httpguts's
// ValidHeaderFieldName and ValidHeaderFieldValue (RFC 7230 token and
// field-value), which net/http applies before sending. They are restated
// here because importing httpguts pulls x/net/idna and x/text into go.sum.
func validToken(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// Seeds shared by the fuzzers: the characters and shapes that broke other
// SigV4 proxies (aws-sigv4-proxy #11 #13 #176 #246 #67) and percent-escape
// edge cases. In a plain `go test` these seeds run as ordinary cases.
var nastyPaths = []string{
	"", "/", "%2F", "/a%2Fb", "/a%2fb", "+", "/a+b", "=", "/a=b", ":", "/a:b", "@", "~", "!", "*", "'", "(", ")",
	" ", "/a b", "/a%20b", "/ü", "/日本語/ファイル", "/€", "//", "///", "/a//b", "/./", "/../", "/a/./b/../c", "/..",
	"/.", "%", "/%", "/%2", "/%zz", "/%ZZ", "/%%", "/a%", "/%7e%7E~", "/%41", "/%00", "/\x00", "/\x7f\xff", "a/b",
	"/;,$&", "/?#", "/[x]", "/%25", "/%252F", "relative", "./a", "../a", "/a/..", "/a/.", "/a/",
}

var nastyQueries = []string{
	"", "a", "a=", "=", "=b", "&", "&&", "a=1&a=0", "a=1&&b=2", "a=b=c", "+", "a=b+c", "a%20b=c%20d", "a b=c d",
	"%", "%zz", "a=%", "a=%2", "a=%2f", "a=%2F", "~=~", "!*'()=:/@", "u=%C3%BC", "u=ü", "x=%7e", "k=%41",
	"A=1&a=1&B=0&b", "X-Amz-Signature=x", "a=1&", "&a=1", "a=\x00", "a=\xff",
}

func validPathMode(m uint8) PathMode { return PathMode(m % 3) }

// checkCanonicalEncoding asserts that s only holds unreserved bytes, '/'
// (when slash) and uppercase %XX escapes of bytes that need escaping.
func checkCanonicalEncoding(t *testing.T, what, s string, slash bool) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved(c) || c == '/' && slash:
		case c == '%' && i+2 < len(s) && strings.IndexByte(upperhex, s[i+1]) >= 0 && strings.IndexByte(upperhex, s[i+2]) >= 0:
			hi, _ := unhex(s[i+1])
			lo, _ := unhex(s[i+2])
			if b := hi<<4 | lo; unreserved(b) || b == '/' && slash {
				t.Fatalf("%s %q escapes %q, which must be sent bare", what, s, b)
			}
			i += 2
		default:
			t.Fatalf("%s %q has byte %q at %d outside the canonical encoding", what, s, c, i)
		}
	}
}

// FuzzCanonicalPath: any input, every mode; no panic, canonical encoding only,
// and the S3 wire path is a fixed point that means the same key.
func FuzzCanonicalPath(f *testing.F) {
	for _, p := range nastyPaths {
		for m := uint8(0); m < 3; m++ {
			f.Add(p, m)
		}
	}
	f.Fuzz(func(t *testing.T, p string, m uint8) {
		mode := validPathMode(m)
		canon, wire, err := CanonicalPath(p, mode)
		if err != nil {
			var me *MalformedError
			if !errors.As(err, &me) || mode != PathS3 {
				t.Fatalf("CanonicalPath(%q, %d): unexpected error %v", p, mode, err)
			}
			return
		}
		checkCanonicalEncoding(t, "canonical path", canon, true)
		if canon == "" && (mode == PathS3 || strings.HasPrefix(p, "/")) {
			// A relative path ("..") normalises to "" as in botocore; it
			// never arrives on the wire, where paths are absolute.
			t.Fatalf("empty canonical path for %q", p)
		}
		switch mode {
		case PathS3:
			if wire != canon {
				t.Fatalf("S3 wire %q differs from canonical %q", wire, canon)
			}
			// Sending the wire path must mean the same key...
			want, _ := percentDecode(p, "path")
			if p == "" {
				want = "/"
			}
			if got, err := percentDecode(wire, "path"); err != nil || got != want {
				t.Fatalf("wire %q decodes to %q, the input %q to %q", wire, got, p, want)
			}
			// ...and canonicalising it again changes nothing.
			c2, w2, err := CanonicalPath(wire, PathS3)
			if err != nil || c2 != canon || w2 != wire {
				t.Fatalf("not idempotent: %q -> %q -> (%q, %q, %v)", p, wire, c2, w2, err)
			}
		case PathNormalized:
			if wire != p && !(p == "" && wire == "/") {
				t.Fatalf("normalised mode changed the wire path %q to %q", p, wire)
			}
			if p == "" {
				break // normalizePath is only called on a non-empty path
			}
			n := normalizePath(p)
			if n != "" && normalizePath(n) != n {
				t.Fatalf("normalizePath not idempotent: %q -> %q -> %q", p, n, normalizePath(n))
			}
			if inner := strings.Trim(n, "/"); inner != "" {
				for _, seg := range strings.Split(inner, "/") {
					if seg == "." || seg == ".." || seg == "" {
						t.Fatalf("normalised %q still has segment %q: %q", p, seg, n)
					}
				}
			}
		case PathEncoded:
			if want := string(appendEncoded(nil, p, true)); p != "" && canon != want {
				t.Fatalf("encoded mode: %q, want %q", canon, want)
			}
		}
	})
}

// FuzzCanonicalQuery: no panic; sorted canonical pairs; idempotent; the wire
// query the signer sends is canonical-encoded, stable, and means the same.
func FuzzCanonicalQuery(f *testing.F) {
	for _, q := range nastyQueries {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		canon, err := CanonicalQuery(raw)
		if err != nil {
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("CanonicalQuery(%q): %v", raw, err)
			}
			if _, _, werr := wireQuery(raw); werr == nil {
				t.Fatalf("CanonicalQuery rejects %q but wireQuery accepts it", raw)
			}
			return
		}
		var prevK, prevV string
		for i, piece := range strings.Split(canon, "&") {
			if canon == "" {
				break
			}
			k, v, ok := strings.Cut(piece, "=")
			if !ok {
				t.Fatalf("canonical %q: piece %q has no '='", canon, piece)
			}
			checkCanonicalEncoding(t, "query name", k, false)
			checkCanonicalEncoding(t, "query value", v, false)
			if i > 0 && (k < prevK || k == prevK && v < prevV) {
				t.Fatalf("canonical %q not sorted at %q", canon, piece)
			}
			prevK, prevV = k, v
		}
		if again, err := CanonicalQuery(canon); err != nil || again != canon {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", raw, canon, again, err)
		}
		wire, _, err := wireQuery(raw)
		if err != nil {
			t.Fatalf("wireQuery(%q): %v", raw, err)
		}
		if queryNeedsRewrite(wire) {
			t.Fatalf("wire query %q (from %q) would be rewritten again", wire, raw)
		}
		for _, piece := range strings.Split(wire, "&") {
			k, v, _ := strings.Cut(piece, "=")
			checkCanonicalEncoding(t, "wire query name", k, false)
			checkCanonicalEncoding(t, "wire query value", v, false)
		}
		if c2, err := CanonicalQuery(wire); err != nil || c2 != canon {
			t.Fatalf("wire %q canonicalises to %q, raw %q to %q", wire, c2, raw, canon)
		}
	})
}

// fuzzSigned returns a signed request's Authorization header and query, as
// seeds the fuzzer can mutate into near misses.
func fuzzSigned(presign bool) (auth, query, path string) {
	r, _ := http.NewRequest("GET", "https://bucket.s3.eu-west-1.amazonaws.com/a%2Fb/c d?x=1&y", nil)
	p := &Params{Service: "s3", Region: "eu-west-1", PayloadHash: UnsignedPayload, ContentSHA256Header: !presign}
	if presign {
		NewSigner(nil).Presign(r, tokenCreds, p, verifyNow, time.Hour)
	} else {
		NewSigner(nil).Sign(r, verifyCreds, p, verifyNow)
	}
	return r.Header.Get("Authorization"), r.URL.RawQuery, r.URL.EscapedPath()
}

// FuzzVerify feeds arbitrary Authorization headers, queries and paths to
// Verify: it must never panic and must fail only with a *VerifyError.
func FuzzVerify(f *testing.F) {
	auth, q, p := fuzzSigned(false)
	f.Add(auth, q, p, "20240517T103000Z")
	auth2, q2, p2 := fuzzSigned(true)
	f.Add(auth2, q2, p2, "")
	f.Add(strings.Replace(auth, algorithmV4, algorithmV4A, 1), q, p, "20240517T103000Z")
	f.Add(strings.Replace(q2, algorithmV4, algorithmV4A, 1)+"&X-Amz-Region-Set=*", "", p2, "")
	for _, a := range []string{"", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256 Credential=", "AWS4-HMAC-SHA256 ,,,=,=", "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature="} {
		f.Add(a, "", "/", "20240517T103000Z")
	}
	for _, nq := range nastyQueries {
		f.Add("", nq+"&X-Amz-Algorithm=AWS4-HMAC-SHA256", "/", "")
	}
	f.Fuzz(func(t *testing.T, auth, rawQuery, path, date string) {
		r := &http.Request{Method: "GET", Host: "bucket.s3.eu-west-1.amazonaws.com", Header: http.Header{},
			URL: &url.URL{Path: path, RawPath: path, RawQuery: rawQuery}}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if date != "" {
			r.Header.Set("X-Amz-Date", date)
		}
		r.Header.Set("X-Amz-Region-Set", "eu-*")
		v, err := Verify(r, VerifyOptions{Now: verifyNow, Lookup: lookupOf(verifyCreds, tokenCreds)})
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Kind < Malformed || ve.Kind > ScopeMismatch {
				t.Fatalf("Verify returned %T %v", err, err)
			}
			if ve.Kind == SignatureMismatch && ve.CanonicalRequest == "" {
				t.Fatal("signature mismatch without a canonical request")
			}
			return
		}
		if v.AccessKeyID == "" || len(v.SignedHeaders) == 0 {
			t.Fatalf("Verified %+v", v)
		}
	})
}

// FuzzSignVerify: whatever method, path, query and header the fuzzer builds,
// a request signed by Sign or Presign verifies as the server receives
// it (written by net/http, parsed by net/http). Only inputs net/http itself
// would refuse to send are skipped; hostile paths and queries are not.
func FuzzSignVerify(f *testing.F) {
	for i, p := range nastyPaths {
		q := nastyQueries[i%len(nastyQueries)]
		f.Add("GET", p, q, "X-Custom", "  a   b ", uint8(i))
	}
	f.Add("PUT", "/a b/+/ü", "a=b=c&d", "x-amz-meta-Key", "v\tw", uint8(0xff))
	f.Add("POST", "/x", "", "user-agent", "curl", uint8(0x04))
	f.Add("POST", "/x", "", "x-amz-date", "19700101T000000Z", uint8(0x04))
	f.Add("POST", "/x", "", "authorization", "Basic x", uint8(0x05))
	f.Add("POST", "/x", "", "X-Amz-Content-Sha256", "abc", uint8(0x00))
	f.Fuzz(func(t *testing.T, method, path, query, hname, hval string, flags uint8) {
		presign, s3, rawKey, rawPath := flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
		if method == "" {
			method = "GET"
		}
		if !validToken(method) { // a method is a token
			return
		}
		hasHeader := hname != ""
		if hasHeader && (!validToken(hname) || !validFieldValue(hval)) {
			return
		}
		if hasHeader && rawKey {
			// A header key set without canonicalising it goes on the wire
			// as is, next to the ones net/http writes itself (Host,
			// User-Agent, Content-Length, ...) and those the signer writes.
			// Two Host or Content-Length lines are a broken request whoever
			// signs it.
			switch textproto.CanonicalMIMEHeaderKey(hname) {
			case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
				return
			case "Authorization", "X-Amz-Content-Sha256":
				if flags&1 != 0 {
					// Presign (presign.go, not this file's owner) deletes the
					// caller's canonical-case keys only; Sign drops
					// every case variant (dropCaseVariants). Left out until
					// Presign does the same.
					return
				}
			}
		}
		service := "execute-api"
		if s3 {
			service = "s3"
		}
		u := &url.URL{Scheme: "https", Host: "svc.example.com", Path: "/" + strings.TrimPrefix(path, "/"), RawQuery: query}
		if rawPath {
			// The path as the client typed it, when url would keep it so.
			if pu, err := url.Parse("https://svc.example.com" + u.Path); err == nil && pu.RawQuery == "" && pu.Fragment == "" {
				u.Path, u.RawPath = pu.Path, pu.RawPath
			}
		}
		if !presign && (queryHasParam(query, "X-Amz-Signature") || queryHasParam(query, "X-Amz-Algorithm")) {
			// A caller's own presign parameters next to an Authorization
			// header: AWS refuses two mechanisms, and so does Verify.
			return
		}
		r := &http.Request{Method: method, URL: u, Host: u.Host, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		if hasHeader {
			if rawKey {
				r.Header[hname] = append(r.Header[hname], hval)
			} else {
				r.Header.Add(hname, hval)
			}
		}
		p := &Params{Service: service, Region: "eu-west-1", ContentSHA256Header: s3 && !presign}
		if s3 && presign {
			p.PayloadHash = UnsignedPayload
		}
		s := NewSigner(nil)
		var signed Signed
		var err error
		if presign {
			signed, err = s.PresignDebug(r, tokenCreds, p, verifyNow, time.Hour)
		} else {
			signed, err = s.SignDebug(r, verifyCreds, p, verifyNow)
		}
		if err != nil {
			var me *MalformedError
			if errors.As(err, &me) {
				return // refused with 400: a bad escape
			}
			t.Fatalf("signing: %v", err)
		}
		srv, err := serverView(r)
		if err != nil {
			t.Fatalf("the signed request cannot be read by a server: %v\nURL %q", err, r.URL.RequestURI())
		}
		if _, err := Verify(srv, VerifyOptions{Now: verifyNow, Lookup: lookupOf(verifyCreds, tokenCreds)}); err != nil {
			var ve *VerifyError
			errors.As(err, &ve)
			cr := ""
			if ve != nil {
				cr = ve.CanonicalRequest
			}
			t.Fatalf("%v\nrequest URI %q, header %q=%q\nsigner's canonical request:\n%s\nverifier's:\n%s", err, r.URL.RequestURI(), hname, hval, signed.CanonicalRequest, cr)
		}
	})
}
