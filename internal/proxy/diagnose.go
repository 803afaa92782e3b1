package proxy

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/signway/signway/internal/sigv4"
)

// diagnose looks at an upstream's 403: when it is SignatureDoesNotMatch, it
// compares the canonical request the upstream says it computed with the one
// signway signed and logs the first difference. That names the hop that
// rewrote a header or path, or, when both agree, a wrong secret. The body
// reaches the caller unchanged but for signway's session token, which S3
// and other services quote in the canonical request they computed.
func (p *Proxy) diagnose(resp *http.Response) error {
	if resp.StatusCode != http.StatusForbidden || resp.Request == nil || resp.Body == nil {
		return nil
	}
	const maxHead = 64 << 10
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxHead))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil || !bytes.Contains(head, []byte("SignatureDoesNotMatch")) &&
		!bytes.Contains(head, []byte("signature we calculated does not match")) {
		return nil
	}
	if len(head) < maxHead { // the whole body: it can be rewritten
		if clean := redactSessionToken(bytes.Clone(head), resp.Request); !bytes.Equal(clean, head) {
			resp.Body = readCloser{bytes.NewReader(clean), resp.Body}
			resp.ContentLength = int64(len(clean))
			if resp.Header.Get("Content-Length") != "" {
				resp.Header.Set("Content-Length", strconv.Itoa(len(clean)))
			}
		}
	}
	p.metrics.SigningError(p.route.Name, "upstream_mismatch")
	ours, err := sigv4.SignedCanonical(resp.Request)
	if err != nil {
		p.log.Warn("the upstream refused signway's signature (SignatureDoesNotMatch)", "route", p.route.Name, "error", err)
		return nil
	}
	theirs, theirsSTS := upstreamCanonical(head)
	if theirs == "" {
		p.log.Warn("the upstream refused signway's signature (SignatureDoesNotMatch) without saying what it computed; check the secret access key, and that no hop between signway and AWS rewrites the path or signed headers",
			"route", p.route.Name, "path", resp.Request.URL.EscapedPath())
		return nil
	}
	m := sigv4.CompareSigned(ours, theirs, theirsSTS)
	resp.Header.Set("X-Signway-Signature-Mismatch", m.Part)
	p.log.Warn("the upstream refused signway's signature (SignatureDoesNotMatch)", "route", p.route.Name,
		slog.String("diagnosis", m.String()))
	return nil
}

// redactSessionToken replaces the session token signway sent with r (in a
// header, or in the query when signing in the query), as it is and
// URI-encoded, in an upstream's error body: it is signway's credential, not
// the caller's.
func redactSessionToken(body []byte, r *http.Request) []byte {
	tokens := append(r.Header.Values("X-Amz-Security-Token"), r.URL.Query()["X-Amz-Security-Token"]...)
	for _, tok := range tokens {
		if len(tok) < 8 {
			continue
		}
		for _, form := range []string{tok, url.QueryEscape(tok)} {
			body = bytes.ReplaceAll(body, []byte(form), []byte("REDACTED-BY-SIGNWAY"))
		}
	}
	return body
}

type readCloser struct {
	io.Reader
	io.Closer
}

var canonicalInMessage = regexp.MustCompile(`(?s)Canonical String for this request should have been\s*'(.*?)'\s*The String-to-Sign should have been\s*'(.*?)'`)

// upstreamCanonical finds what the upstream computed: S3 returns it as
// elements of its XML error; other services put it in the error message
// (XML or JSON).
func upstreamCanonical(body []byte) (canonical, sts string) {
	var s3 struct {
		CanonicalRequest string `xml:"CanonicalRequest"`
		StringToSign     string `xml:"StringToSign"`
		Message          string `xml:"Message"`
	}
	msg := ""
	if xml.Unmarshal(body, &s3) == nil {
		if s3.CanonicalRequest != "" {
			return s3.CanonicalRequest, s3.StringToSign
		}
		msg = s3.Message
	}
	if msg == "" {
		var j map[string]any
		if json.Unmarshal(body, &j) == nil {
			for _, k := range []string{"message", "Message"} {
				if s, ok := j[k].(string); ok {
					msg = s
				}
			}
		}
	}
	if m := canonicalInMessage.FindStringSubmatch(msg); m != nil {
		return m[1], m[2]
	}
	return "", ""
}
