// Package demo owns `signway demo` ([Run]): a small in-memory object store
// that checks SigV4 signatures the way S3 does (with internal/sigv4's
// Verify), signway in front of it and the scripted requests through both, so
// the demo and the tests can show the whole signing path without an AWS
// account.
package demo

import (
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/signway/signway/internal/sigv4"
)

// Upstream is an S3-like store with a single bucket at the root: the object
// key is the request path without its leading slash.
type Upstream struct {
	creds  sigv4.Credentials
	now    func() time.Time
	log    *slog.Logger
	mu     sync.RWMutex
	object map[string][]byte
}

// NewUpstream accepts requests signed with creds for service "s3".
func NewUpstream(creds sigv4.Credentials, now func() time.Time, log *slog.Logger) *Upstream {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Upstream{creds: creds, now: now, log: log, object: map[string][]byte{}}
}

type s3Error struct {
	XMLName          xml.Name `xml:"Error"`
	Code             string   `xml:"Code"`
	Message          string   `xml:"Message"`
	CanonicalRequest string   `xml:"CanonicalRequest,omitempty"`
	StringToSign     string   `xml:"StringToSign,omitempty"`
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	b, _ := xml.MarshalIndent(v, "", "  ")
	w.Write(append([]byte(xml.Header), b...))
}

func (u *Upstream) lookup(id string) (sigv4.Credentials, error) {
	if id != u.creds.AccessKeyID {
		return sigv4.Credentials{}, errors.New("the AWS access key ID does not exist in our records")
	}
	return u.creds, nil
}

func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v, err := sigv4.Verify(r, sigv4.VerifyOptions{Now: u.now(), Lookup: u.lookup, Service: "s3"})
	if err != nil {
		e := s3Error{Code: "AccessDenied", Message: err.Error()}
		var ve *sigv4.VerifyError
		if errors.As(err, &ve) {
			e.Code, e.CanonicalRequest, e.StringToSign = ve.Kind.AWSCode(), ve.CanonicalRequest, ve.StringToSign
		}
		u.log.Info("demo upstream refused a request", "method", r.Method, "path", r.URL.Path, "code", e.Code)
		writeXML(w, http.StatusForbidden, e)
		return
	}
	// A hash-signed body is hashed as it is read; an aws-chunked one is
	// decoded with each chunk signature checked, as S3 does.
	// Tell the demo how the request was signed: it is what the demo shows.
	how := v.Algorithm + ", payload "
	switch h := v.PayloadHash; {
	case h == sigv4.EmptyPayloadHash:
		how += "of an empty body"
	case len(h) == 64:
		how += "SHA-256 " + h[:12] + "... (checked against the body)"
	case strings.HasPrefix(h, "STREAMING-"):
		how += h + " (every chunk signature checked)"
	default:
		how += h
	}
	w.Header().Set("X-Demo-Verified", how)
	body, err := sigv4.VerifiedBody(r, v)
	if err != nil {
		writeXML(w, http.StatusBadRequest, s3Error{Code: "IncompleteBody", Message: err.Error()})
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && key == "":
		u.list(w, r.URL.Query().Get("prefix"))
	case r.Method == http.MethodPut:
		data, err := io.ReadAll(body)
		if err != nil {
			writeXML(w, http.StatusBadRequest, s3Error{Code: "BadDigest", Message: err.Error()})
			return
		}
		u.mu.Lock()
		u.object[key] = data
		u.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		u.mu.RLock()
		data, ok := u.object[key]
		u.mu.RUnlock()
		if !ok {
			writeXML(w, http.StatusNotFound, s3Error{Code: "NoSuchKey", Message: "The specified key does not exist: " + key})
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.Method == http.MethodGet {
			w.Write(data)
		}
	case r.Method == http.MethodDelete:
		u.mu.Lock()
		delete(u.object, key)
		u.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeXML(w, http.StatusMethodNotAllowed, s3Error{Code: "MethodNotAllowed", Message: r.Method + " is not supported by the demo store"})
	}
}

func (u *Upstream) list(w http.ResponseWriter, prefix string) {
	type content struct {
		Key  string `xml:"Key"`
		Size int    `xml:"Size"`
	}
	res := struct {
		XMLName  xml.Name  `xml:"ListBucketResult"`
		Prefix   string    `xml:"Prefix"`
		Contents []content `xml:"Contents"`
	}{Prefix: prefix}
	u.mu.RLock()
	for k, v := range u.object {
		if strings.HasPrefix(k, prefix) {
			res.Contents = append(res.Contents, content{k, len(v)})
		}
	}
	u.mu.RUnlock()
	slices.SortFunc(res.Contents, func(a, b content) int { return strings.Compare(a.Key, b.Key) })
	writeXML(w, http.StatusOK, res)
}
