package proxy

import (
	"net/http"

	"github.com/signway/signway/internal/config"
)

// The payload plan: what the signing transport sends for one request body,
// decided by planPayload alone from the route's settings and what the caller
// said about the body. signingTransport.RoundTrip only carries it out.

// bodyPlan is how the body travels.
type bodyPlan uint8

const (
	// bodyNone: there is no body.
	bodyNone bodyPlan = iota
	// bodyStream: the bytes go as they come, with their length (or chunked,
	// off S3).
	bodyStream
	// bodyUnsignedChunks: re-framed as STREAMING-UNSIGNED-PAYLOAD-TRAILER so
	// the caller's trailing checksum still reaches S3.
	bodyUnsignedChunks
	// bodySignedChunks: aws-chunked with each chunk signed (S3 streaming
	// upload), read once in bounded memory.
	bodySignedChunks
	// bodySpool: read to the end (memory, then a temporary file) and hashed
	// before anything is sent.
	bodySpool
)

// hashPlan is the x-amz-content-sha256 that is signed.
type hashPlan uint8

const (
	hashEmpty     hashPlan = iota // the empty body's SHA-256
	hashUnsigned                  // UNSIGNED-PAYLOAD
	hashClaimed                   // the caller's own x-amz-content-sha256
	hashSpooled                   // the SHA-256 the spool computed
	hashStreaming                 // a STREAMING-* marker, set by the chunk signer or encoder
)

// trailerPlan is where the caller's trailing checksum goes.
type trailerPlan uint8

const (
	trailerNone   trailerPlan = iota // the caller sent none, or it cannot be carried
	trailerHeader                    // as a header (x-amz-checksum-crc32: ...), known before sending
	trailerFramed                    // in the trailer of the aws-chunked body signway sends
)

// payloadFacts is what planPayload decides from.
type payloadFacts struct {
	mode    config.PayloadMode
	s3      bool // the route's service is S3 or one of its relatives
	presign bool // signed in the query, not in an Authorization header
	// objectUpload is a PutObject or UploadPart (auto streams only those).
	objectUpload bool
	// length is the body's length once the caller's aws-chunked envelope is
	// off: 0 for no body, -1 when unknown.
	length int64
	// claimed: the caller sent a hex x-amz-content-sha256 for a plain body.
	claimed bool
	// chunked: the caller's body was aws-chunked (decoded before signing);
	// trailer: it ended with a trailing checksum.
	chunked bool
	trailer bool
}

// payloadPlan is what is sent. checkClaim holds the body to the caller's
// hash: compared with the spool's hash, with the empty body's, or checked by
// a holdbackReader that keeps the last byte back until the hash matches.
type payloadPlan struct {
	body       bodyPlan
	hash       hashPlan
	trailer    trailerPlan
	checkClaim bool
	presign    bool
}

// planPayload decides what is sent for a body. S3 presigned URLs never cover
// the body, whatever the payload mode.
func planPayload(f payloadFacts) payloadPlan {
	presignedS3 := f.presign && f.s3
	unsigned := presignedS3 || f.mode == config.PayloadUnsigned
	p := payloadPlan{checkClaim: f.claimed, presign: f.presign}
	carry := trailerNone
	if f.chunked && f.trailer {
		carry = trailerHeader
	}
	switch {
	case f.length == 0:
		// An empty aws-chunked upload (boto3 and AWS CLI v2 send empty files
		// so) still carries its checksum: S3 refuses the
		// x-amz-sdk-checksum-algorithm that comes with it otherwise.
		p.body, p.hash, p.trailer = bodyNone, hashEmpty, carry
		if presignedS3 {
			p.hash = hashUnsigned
		}
	case f.s3 && !f.presign && f.length > 0 &&
		(f.mode == config.PayloadStreaming || f.mode == config.PayloadAuto && f.objectUpload):
		// Signed chunks need the decoded length up front (S3 wants
		// x-amz-decoded-content-length) and an Authorization header.
		p.body, p.hash = bodySignedChunks, hashStreaming
		if carry != trailerNone {
			p.trailer = trailerFramed
		}
	case unsigned && (f.length > 0 || !f.s3):
		// Streams untouched. S3 refuses a chunked PUT, so a body of unknown
		// length to S3 takes the spool below to learn its length.
		p.body, p.hash = bodyStream, hashUnsigned
		if f.claimed && !presignedS3 {
			// Signed too, so the upstream checks the body against it:
			// cutting a bad body short is then not the only safeguard.
			p.hash = hashClaimed
		}
		if carry != trailerNone && !presignedS3 && f.length > 0 {
			p.body, p.hash, p.trailer = bodyUnsignedChunks, hashStreaming, trailerFramed
		}
	default:
		p.body, p.hash, p.trailer = bodySpool, hashSpooled, carry
		if unsigned {
			p.hash = hashUnsigned
		}
	}
	return p
}

// payloadFacts gathers the facts about out, whose caller payload cp has
// already been taken off.
func (rt *Route) payloadFacts(out *http.Request, cp *callerPayload) payloadFacts {
	f := payloadFacts{mode: rt.Payload, s3: rt.s3, presign: rt.SignQuery,
		length: out.ContentLength, claimed: cp.claimed != "",
		chunked: cp.dec != nil, trailer: cp.trailer != ""}
	if !hasBody(out) {
		f.length = 0
	}
	if f.s3 && out.Method == http.MethodPut {
		f.objectUpload = rt.isObjectUpload(out)
	}
	return f
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}
