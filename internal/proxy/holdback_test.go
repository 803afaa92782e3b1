package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestHoldbackReader(t *testing.T) {
	data := []byte("the quick brown fox jumps over the lazy dog")
	sum := sha256.Sum256(data)
	for _, tt := range []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{{"plain", func(r io.Reader) io.Reader { return r }}, {"one byte", iotest.OneByteReader}, {"data+EOF", iotest.DataErrReader}} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(newHoldbackReader(io.NopCloser(tt.wrap(bytes.NewReader(data))), hex.EncodeToString(sum[:])))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%q %v", got, err)
			}
			// A wrong hash: every byte but the last may pass, never the last.
			r := tt.wrap(newHoldbackReader(io.NopCloser(tt.wrap(bytes.NewReader(data))), strings.Repeat("0", 64)))
			got, err = io.ReadAll(r)
			if _, ok := err.(*PayloadError); !ok || len(got) >= len(data) {
				t.Fatalf("got %d of %d bytes, err %v", len(got), len(data), err)
			}
		})
	}
}
