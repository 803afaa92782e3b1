package gateway

import "sync"

// pool shares values between config generations, keyed by the settings they
// were built from: a generation acquires what it uses and releases it when a
// newer one replaces it, and a value no generation uses any more is dropped.
// So a reload that keeps a route's settings keeps its transport (and its
// idle connections) and its credential cache (and causes no burst of STS
// calls). Like Caddy's UsagePool, but typed: K must be a comparable struct of
// everything the value was built from.
type pool[K comparable, V any] struct {
	// drop is called, outside the lock, for a value whose last user
	// released it.
	drop func(V)

	mu    sync.Mutex
	items map[K]*pooled[V]
}

type pooled[V any] struct {
	v    V
	refs int
}

func newPool[K comparable, V any](drop func(V)) *pool[K, V] {
	return &pool[K, V]{drop: drop, items: map[K]*pooled[V]{}}
}

// acquire returns the value for k, building it when no one holds it, and
// counts one more user. Each successful acquire needs one release.
func (p *pool[K, V]) acquire(k K, build func() (V, error)) (V, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if it, ok := p.items[k]; ok {
		it.refs++
		return it.v, nil
	}
	v, err := build()
	if err != nil {
		return v, err
	}
	p.items[k] = &pooled[V]{v: v, refs: 1}
	return v, nil
}

// release counts one user less and drops the value after its last.
func (p *pool[K, V]) release(k K) {
	p.mu.Lock()
	it, ok := p.items[k]
	if !ok {
		p.mu.Unlock()
		return
	}
	it.refs--
	last := it.refs <= 0
	if last {
		delete(p.items, k)
	}
	p.mu.Unlock()
	if last && p.drop != nil {
		p.drop(it.v)
	}
}

// len is the number of values in use.
func (p *pool[K, V]) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items)
}
