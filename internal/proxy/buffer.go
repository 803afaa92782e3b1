package proxy

import "sync"

// bufferPool recycles the 32 KiB copy buffers ReverseProxy uses for bodies,
// so streaming a body costs no garbage per request.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
