package gateway

import (
	"errors"
	"testing"
)

func TestPoolSharesAndDropsAfterLastRelease(t *testing.T) {
	type key struct{ a, b string }
	var dropped []int
	p := newPool[key](func(v *int) { dropped = append(dropped, *v) })
	builds := 0
	build := func(n int) func() (*int, error) {
		return func() (*int, error) { builds++; return &n, nil }
	}
	one, _ := p.acquire(key{"x", "y"}, build(1))
	again, _ := p.acquire(key{"x", "y"}, build(2))
	if one != again || builds != 1 {
		t.Fatalf("equal keys built %d values, want one shared", builds)
	}
	if _, err := p.acquire(key{"x", "z"}, func() (*int, error) { return nil, errors.New("no") }); err == nil || p.len() != 1 {
		t.Fatalf("a failed build: err %v, %d values held, want an error and 1", err, p.len())
	}
	p.release(key{"x", "y"})
	if len(dropped) != 0 {
		t.Fatal("dropped while still in use")
	}
	p.release(key{"x", "y"})
	if len(dropped) != 1 || dropped[0] != 1 || p.len() != 0 {
		t.Fatalf("after the last release: dropped %v, %d held", dropped, p.len())
	}
	p.release(key{"x", "y"}) // an extra release is harmless
	if len(dropped) != 1 {
		t.Fatal("an extra release dropped again")
	}
}
