package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// uploadResult is one fresh proxy's handling of one large PUT.
type uploadResult struct {
	chunked     bool
	status      int
	originBytes string // what the origin says it received (its response body)
	peakRSS     int64  // VmHWM of the proxy after the upload
	elapsed     time.Duration
	err         error // the upload failed; peakRSS may still be set
}

// measureUpload starts a fresh proxy, so VmHWM reflects this upload and
// not the earlier load test, PUTs size zero bytes through it and reads the
// proxy's peak RSS.
func measureUpload(ctx context.Context, l launcher, kind, label string, size int64, chunked bool) uploadResult {
	res := uploadResult{chunked: chunked}
	mode := "length"
	if chunked {
		mode = "chunked"
	}
	proxy, base, err := l.start(ctx, kind, label+"-upload-"+mode)
	if err != nil {
		res.err = err
		return res
	}
	defer proxy.stop()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/loadbench-bucket/upload.bin", io.LimitReader(zeros{}, size))
	if err != nil {
		res.err = fmt.Errorf("building PUT: %w", err)
		return res
	}
	if chunked {
		req.ContentLength = -1 // unknown length: the transport sends Transfer-Encoding: chunked
	} else {
		req.ContentLength = size
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	start := time.Now()
	resp, err := client.Do(req)
	res.elapsed = time.Since(start)
	if err != nil {
		res.err = fmt.Errorf("PUT %d bytes: %w", size, err)
	} else {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		res.status = resp.StatusCode
		res.originBytes = strings.TrimSpace(string(body))
		if resp.StatusCode != http.StatusOK {
			res.err = fmt.Errorf("PUT: status %d: %.200s", resp.StatusCode, body)
		}
	}
	rss, rerr := peakRSS(proxy.pid())
	if rerr != nil && res.err == nil {
		res.err = rerr
	}
	res.peakRSS = rss
	return res
}

// zeros is an endless source of zero bytes that costs no memory.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
