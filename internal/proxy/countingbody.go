package proxy

import (
	"io"
	"sync/atomic"
)

// countingBody counts the request body bytes signway read from the caller.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64 // read on the handler's goroutine after the transport's may still be reading
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}
