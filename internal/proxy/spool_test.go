package proxy

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestSpoolHoldsOnlyWhatArrived(t *testing.T) {
	for _, tt := range []struct {
		name   string
		size   int
		inFile bool
	}{
		{"empty", 0, false},
		{"one byte", 1, false},
		{"one chunk", spoolChunkSize, false},
		{"at the threshold", 64 << 10, false},
		{"one over", 64<<10 + 1, true},
		{"large", 300 << 10, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16+1)[:tt.size]
			b := NewSpoolBudget(1 << 20)
			s, err := newSpool(bytes.NewReader(data), 64<<10, 1<<20, t.TempDir(), b)
			if err != nil {
				t.Fatal(err)
			}
			if (s.file != nil) != tt.inFile {
				t.Errorf("in a file: %v, want %v", s.file != nil, tt.inFile)
			}
			if held := b.InUse(); held > int64(tt.size)+spoolChunkSize || tt.inFile && held != 0 {
				t.Errorf("%d bytes of memory held for a %d-byte body", held, tt.size)
			}
			for range 2 { // a retry reads it again
				r := s.reader()
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(data))
				}
			}
			s.release()
			if b.InUse() != 0 {
				t.Errorf("%d bytes still counted after release", b.InUse())
			}
		})
	}
}

func TestSpoolBudgetSendsBodiesToDisk(t *testing.T) {
	b := NewSpoolBudget(2 * spoolChunkSize)
	data := strings.Repeat("y", 3*spoolChunkSize)
	first, err := newSpool(strings.NewReader(data[:spoolChunkSize+1]), 1<<20, 1<<20, t.TempDir(), b)
	if err != nil {
		t.Fatal(err)
	}
	defer first.release()
	if first.file != nil || b.InUse() != 2*spoolChunkSize {
		t.Fatalf("first body: file %v, %d bytes counted; want it in memory, 2 chunks", first.file != nil, b.InUse())
	}
	second, err := newSpool(strings.NewReader(data), 1<<20, 1<<20, t.TempDir(), b)
	if err != nil {
		t.Fatal(err)
	}
	defer second.release()
	if second.file == nil {
		t.Error("with the budget spent, a body stayed in memory")
	}
	r := second.reader()
	defer r.Close()
	if got, _ := io.ReadAll(r); string(got) != data {
		t.Errorf("read back %d bytes, want %d", len(got), len(data))
	}
}
