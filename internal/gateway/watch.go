package gateway

import (
	"context"
	"crypto/sha256"
	"os"
	"slices"
	"sync"
	"time"
)

// Watcher notices when files change: the config file and the secret files
// it refers to, the TLS certificate and key. It polls their content rather
// than using inotify: cheap at a few files every few seconds, and it follows
// the symlink swaps with which Kubernetes updates mounted ConfigMaps and
// Secrets (which inotify on the file misses).
type Watcher struct {
	mu   sync.Mutex
	sets []*watched
}

type watched struct {
	files   func() []string
	changed func()
	names   []string
	sum     [32]byte
}

// Add watches the files files returns (asked again after each change, so
// the set may change) and calls changed when their content does.
func (w *Watcher) Add(files func() []string, changed func()) {
	s := &watched{files: files, changed: changed}
	s.names = files()
	s.sum, _ = digest(s.names)
	w.mu.Lock()
	w.sets = append(w.sets, s)
	w.mu.Unlock()
}

// Run checks every interval until ctx ends.
func (w *Watcher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Check()
		}
	}
}

// Check looks at every set once and calls changed for those whose content
// changed since the last look; it returns when they have returned.
func (w *Watcher) Check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.sets {
		sum, ok := digest(s.names)
		if !ok || sum == s.sum {
			// A file that cannot be read is mid-rotation or gone: wait
			// for it rather than fail a reload on it.
			continue
		}
		s.sum = sum
		s.changed()
		if names := s.files(); !slices.Equal(names, s.names) {
			s.names = names
			s.sum, _ = digest(names)
		}
	}
}

// digest is the SHA-256 of the files' names and contents; ok is false when
// one cannot be read.
func digest(files []string) (sum [32]byte, ok bool) {
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return sum, false
		}
		h.Write([]byte(f))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
	}
	h.Sum(sum[:0])
	return sum, true
}
