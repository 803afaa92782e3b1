package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/signway/signway/internal/config"
)

var (
	bodyNames    = map[bodyPlan]string{bodyNone: "none", bodyStream: "stream", bodyUnsignedChunks: "uchunks", bodySignedChunks: "schunks", bodySpool: "spool"}
	hashNames    = map[hashPlan]string{hashEmpty: "empty", hashUnsigned: "unsigned", hashClaimed: "claimed", hashSpooled: "spooled", hashStreaming: "marker"}
	trailerNames = map[trailerPlan]string{trailerNone: "-", trailerHeader: "header", trailerFramed: "framed"}
)

func (p payloadPlan) String() string {
	return bodyNames[p.body] + " " + hashNames[p.hash] + " " + trailerNames[p.trailer]
}

// callerKinds are the bodies a caller sends, in the column order of the
// table below.
var callerKinds = []struct {
	name                      string
	claimed, chunked, trailer bool
}{
	{"plain", false, false, false},
	{"hashed", true, false, false},
	{"aws-chunked", false, true, false},
	{"aws-chunked+trailer", false, true, true},
}

// TestPlanPayload is the whole decision: every payload mode, S3 or not,
// header or query signing, a body of known or unknown length, and each kind
// of caller body (plain, with its own x-amz-content-sha256, aws-chunked,
// aws-chunked with a trailing checksum). Each cell is "body hash trailer":
// how the body travels, what x-amz-content-sha256 is signed, where the
// caller's checksum goes.
func TestPlanPayload(t *testing.T) {
	const (
		sChunks    = "schunks marker -"
		sChunksTr  = "schunks marker framed"
		spool      = "spool spooled -"
		spoolTr    = "spool spooled header"
		spoolU     = "spool unsigned -"
		spoolUTr   = "spool unsigned header"
		stream     = "stream unsigned -"
		streamHash = "stream claimed -"
		uChunksTr  = "uchunks marker framed"
	)
	type cells [4]string // by callerKinds
	tests := []struct {
		mode           config.PayloadMode
		s3, presign    bool
		known, unknown cells
	}{
		{config.PayloadAuto, true, false, cells{sChunks, sChunks, sChunks, sChunksTr}, cells{spool, spool, spool, spoolTr}},
		// S3 presigned URLs never cover the body: UNSIGNED-PAYLOAD in every mode.
		{config.PayloadAuto, true, true, cells{stream, stream, stream, stream}, cells{spoolU, spoolU, spoolU, spoolUTr}},
		{config.PayloadAuto, false, false, cells{spool, spool, spool, spoolTr}, cells{spool, spool, spool, spoolTr}},
		{config.PayloadAuto, false, true, cells{spool, spool, spool, spoolTr}, cells{spool, spool, spool, spoolTr}},

		// S3 refuses a chunked PUT: a body of unknown length is spooled to
		// learn it.
		{config.PayloadUnsigned, true, false, cells{stream, streamHash, stream, uChunksTr}, cells{spoolU, spoolU, spoolU, spoolUTr}},
		{config.PayloadUnsigned, true, true, cells{stream, stream, stream, stream}, cells{spoolU, spoolU, spoolU, spoolUTr}},
		{config.PayloadUnsigned, false, false, cells{stream, streamHash, stream, uChunksTr}, cells{stream, streamHash, stream, stream}},
		{config.PayloadUnsigned, false, true, cells{stream, streamHash, stream, uChunksTr}, cells{stream, streamHash, stream, stream}},

		{config.PayloadSigned, true, false, cells{spool, spool, spool, spoolTr}, cells{spool, spool, spool, spoolTr}},
		{config.PayloadSigned, true, true, cells{stream, stream, stream, stream}, cells{spoolU, spoolU, spoolU, spoolUTr}},
		{config.PayloadSigned, false, false, cells{spool, spool, spool, spoolTr}, cells{spool, spool, spool, spoolTr}},
		{config.PayloadSigned, false, true, cells{spool, spool, spool, spoolTr}, cells{spool, spool, spool, spoolTr}},

		{config.PayloadStreaming, true, false, cells{sChunks, sChunks, sChunks, sChunksTr}, cells{spool, spool, spool, spoolTr}},
		{config.PayloadStreaming, true, true, cells{stream, stream, stream, stream}, cells{spoolU, spoolU, spoolU, spoolUTr}},
		{config.PayloadStreaming, false, false, cells{spool, spool, spool, spoolTr}, cells{spool, spool, spool, spoolTr}},
		{config.PayloadStreaming, false, true, cells{spool, spool, spool, spoolTr}, cells{spool, spool, spool, spoolTr}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		for _, length := range []int64{1 << 20, -1} {
			want := tt.known
			if length < 0 {
				want = tt.unknown
			}
			for i, k := range callerKinds {
				name := fmt.Sprintf("%s/s3=%v/presign=%v/length=%d/%s", tt.mode, tt.s3, tt.presign, length, k.name)
				seen[name] = true
				t.Run(name, func(t *testing.T) {
					f := payloadFacts{mode: tt.mode, s3: tt.s3, presign: tt.presign, objectUpload: true,
						length: length, claimed: k.claimed, chunked: k.chunked, trailer: k.trailer}
					got := planPayload(f)
					if got.String() != want[i] {
						t.Errorf("plan %q, want %q", got, want[i])
					}
					if got.presign != tt.presign {
						t.Errorf("presign %v, want %v", got.presign, tt.presign)
					}
					// The caller's hash is always held to, whether or not it
					// is what gets signed.
					if got.checkClaim != k.claimed {
						t.Errorf("checkClaim %v for a caller that claimed %v", got.checkClaim, k.claimed)
					}
				})
			}
		}
	}
	if len(seen) != 4*2*2*2*len(callerKinds) {
		t.Errorf("the table covers %d combinations, want every one of %d", len(seen), 4*2*2*2*len(callerKinds))
	}
}

func TestPlanPayloadEdges(t *testing.T) {
	tests := []struct {
		name string
		f    payloadFacts
		want string
	}{
		{"auto streams only object uploads", payloadFacts{mode: config.PayloadAuto, s3: true, length: 10}, "spool spooled -"},
		{"streaming mode streams any S3 body", payloadFacts{mode: config.PayloadStreaming, s3: true, length: 10}, "schunks marker -"},
		{"no body", payloadFacts{mode: config.PayloadAuto, s3: true, objectUpload: true}, "none empty -"},
		{"no body, presigned S3", payloadFacts{mode: config.PayloadSigned, s3: true, presign: true}, "none unsigned -"},
		{"no body, presigned elsewhere", payloadFacts{mode: config.PayloadSigned, presign: true}, "none empty -"},
		{"no body, unsigned mode", payloadFacts{mode: config.PayloadUnsigned, s3: true}, "none empty -"},
		{"empty aws-chunked with a checksum", payloadFacts{mode: config.PayloadAuto, s3: true, objectUpload: true, chunked: true, trailer: true}, "none empty header"},
		{"empty aws-chunked with a checksum, presigned S3", payloadFacts{mode: config.PayloadAuto, s3: true, presign: true, chunked: true, trailer: true}, "none unsigned header"},
		{"empty aws-chunked without a checksum", payloadFacts{mode: config.PayloadUnsigned, s3: true, chunked: true}, "none empty -"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planPayload(tt.f).String(); got != tt.want {
				t.Errorf("plan %q, want %q", got, tt.want)
			}
		})
	}
}

// The facts come from the request as the caller sent it.
func TestPayloadFacts(t *testing.T) {
	f := newFixture(t, "s3", nil)
	rt := f.route
	for _, tt := range []struct {
		method, path string
		body         string
		length       int64
		want         string
	}{
		{"PUT", "/b/k", "data", 4, "length=4 upload=true"},
		{"PUT", "/b/k?tagging", "data", 4, "length=4 upload=false"},
		{"PUT", "/b/k", "", 0, "length=0 upload=true"},
		{"PUT", "/b/k", "data", -1, "length=-1 upload=true"},
		{"POST", "/b/k", "data", 4, "length=4 upload=false"},
	} {
		r := newRequest(t, tt.method, f.proxy.URL+tt.path, strings.NewReader(tt.body))
		r.ContentLength = tt.length
		got := rt.payloadFacts(r, &callerPayload{})
		if s := fmt.Sprintf("length=%d upload=%v", got.length, got.objectUpload); s != tt.want {
			t.Errorf("%s %s (%d): %s, want %s", tt.method, tt.path, tt.length, s, tt.want)
		}
	}
}
