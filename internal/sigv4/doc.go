// Package sigv4 owns AWS Signature Version 4 and 4A: the canonical request, the
// string to sign, signing-key derivation (cached), header and query (presigned)
// signing, verification of a signed request, and the streaming chunk signer.
//
// Everything here is a pure function of the request parts, the credentials and a
// time given as an argument: the package does no I/O and never reads the clock, so
// the proxy, the inbound verifier and the tests all get the same answer for the
// same input.
//
// The one rule the rest of signway relies on: the path and query that are signed
// are byte for byte the path and query that will be sent. For S3 and its
// relatives the signer rewrites the request's path into the single encoding the
// service canonicalises to, so a key containing "%2F", "+", ":" or spaces is
// neither altered nor signed differently from what goes on the wire.
package sigv4
