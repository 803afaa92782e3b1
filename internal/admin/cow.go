package admin

import (
	"maps"
	"sync"
	"sync/atomic"
)

// cowCache maps label values to a metric's children. It is copy-on-write:
// readers do one atomic load and one map lookup, with no lock and no
// allocation; a writer (the first use of a new label combination) copies the
// map under mu. Label combinations are few and fixed once traffic settles,
// which is what makes copying on each new one cheap overall.
type cowCache[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex
}

// get returns the value for k, calling mk to create it on first use. mk may
// return a different key to store (a copy of strings taken from a request).
func (c *cowCache[K, V]) get(k K, mk func(K) (K, V)) V {
	if p := c.m.Load(); p != nil {
		if v, ok := (*p)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[K]V
	if p := c.m.Load(); p != nil {
		old = *p
		if v, ok := old[k]; ok {
			return v
		}
	}
	k, v := mk(k)
	next := make(map[K]V, len(old)+1)
	maps.Copy(next, old)
	next[k] = v
	c.m.Store(&next)
	return v
}
