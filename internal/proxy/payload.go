package proxy

import (
	"fmt"
)

// BodyTooLargeError is a body over the route's limit; the caller gets 413.
type BodyTooLargeError struct{ Limit int64 }

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("request body exceeds the limit of %d bytes that this route hashes before signing", e.Limit)
}

// BodyReadError is a failure to read the caller's body (a client that went
// away or sent a truncated body).
type BodyReadError struct{ Err error }

func (e *BodyReadError) Error() string { return "reading the request body: " + e.Err.Error() }
func (e *BodyReadError) Unwrap() error { return e.Err }
