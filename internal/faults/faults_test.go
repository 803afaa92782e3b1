package faults

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/credentials"
	"github.com/signway/signway/internal/proxy"
	"github.com/signway/signway/internal/sigv4"
	"github.com/signway/signway/internal/testenv"
)

const bucket = "faults"

// content is the body stored under key: its length and bytes follow from
// the key, so any object can be checked for truncation on its own.
func content(key string) []byte {
	size := 64<<10 + len(key)*4099%(256<<10)
	return bytes.Repeat([]byte(key+"|"), size/(len(key)+1)+1)[:size]
}

func s3Env(t *testing.T) (*testenv.S3, proxy.CredentialsFunc) {
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, bucket)
	return s3, staticCreds(sigv4.Credentials{AccessKeyID: s3.AccessKeyID, SecretAccessKey: s3.SecretAccessKey})
}

// put sends key's content through the gateway and sorts the outcome.
func put(g *gateway, c *tally, key string, faultsPossible bool) {
	req, _ := http.NewRequest(http.MethodPut, g.URL+"/"+bucket+"/"+key, bytes.NewReader(content(key)))
	resp, err := g.client.Do(req)
	if err != nil {
		c.bad("PUT %s: %v", key, err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		c.ok.Add(1)
	case faultsPossible && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout):
		c.failed.Add(1)
	default:
		c.bad("PUT %s: %d %.200s", key, resp.StatusCode, body)
	}
}

// get reads key through the gateway and checks what came back.
func get(g *gateway, c *tally, key string, faultsPossible bool) {
	resp, err := g.client.Get(g.URL + "/" + bucket + "/" + key)
	if err != nil {
		c.bad("GET %s: %v", key, err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK && err == nil && bytes.Equal(body, content(key)):
		c.ok.Add(1)
	case faultsPossible && (err != nil || resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout):
		c.failed.Add(1) // a reset mid-response shows as a cut-off body: the caller can tell
	default:
		c.bad("GET %s: %d, %d bytes (want %d), %v", key, resp.StatusCode, len(body), len(content(key)), err)
	}
}

// checkStored fails the test for any object that is not exactly what was
// sent: an upload may fail, but never be stored cut short.
func checkStored(t *testing.T, s3 *testenv.S3, keys []string) {
	t.Helper()
	for _, k := range keys {
		status, body := s3.Do(t, http.MethodGet, "/"+bucket+"/"+k, nil)
		if status == http.StatusOK && !bytes.Equal(body, content(k)) {
			t.Errorf("%s is stored with %d bytes, want %d: a truncated upload completed", k, len(body), len(content(k)))
		} else if status != http.StatusOK && status != http.StatusNotFound {
			t.Errorf("%s: %d %s", k, status, body)
		}
	}
}

func every(n int64, mode faultMode) func(int64) faultMode {
	return func(c int64) faultMode {
		if c%n == 0 {
			return mode
		}
		return pass
	}
}

func TestFaults(t *testing.T) {
	workers, iterations := 6, 6
	if testing.Short() {
		workers, iterations = 3, 3
	}

	t.Run("upstream resets mid-request", func(t *testing.T) {
		s3, creds := s3Env(t)
		for _, mode := range []config.PayloadMode{config.PayloadSigned, config.PayloadStreaming, config.PayloadUnsigned} {
			t.Run(string(mode), func(t *testing.T) {
				in := newInjector(t, strings.TrimPrefix(s3.Endpoint, "http://"), every(3, resetReq))
				g := newGateway(t, routeOpts{target: in.url(), creds: creds, payload: mode})
				before, p, start, c := measure(), samplePeaks(), time.Now(), &tally{}
				var keys sync.Map
				load(t, workers, iterations, func(w, i int) {
					k := fmt.Sprintf("%s-%d-%d", mode, w, i)
					keys.Store(k, true)
					put(g, c, k, true)
				})
				p.end()
				report(t, c, start, before, p)
				in.checkAttributed(t, c)
				var all []string
				keys.Range(func(k, _ any) bool { all = append(all, k.(string)); return true })
				checkStored(t, s3, all)
				g.checkReleased(t, before)
			})
		}
	})

	t.Run("upstream resets mid-response", func(t *testing.T) {
		s3, creds := s3Env(t)
		var keys []string
		for i := range 8 {
			k := fmt.Sprintf("object-%d", i)
			keys = append(keys, k)
			if status, body := s3.Do(t, http.MethodPut, "/"+bucket+"/"+k, content(k)); status != http.StatusOK {
				t.Fatalf("seeding %s: %d %s", k, status, body)
			}
		}
		in := newInjector(t, strings.TrimPrefix(s3.Endpoint, "http://"), every(3, resetResp))
		g := newGateway(t, routeOpts{target: in.url(), creds: creds})
		before, p, start, c := measure(), samplePeaks(), time.Now(), &tally{}
		load(t, workers, iterations, func(w, i int) { get(g, c, keys[(w+i)%len(keys)], true) })
		p.end()
		report(t, c, start, before, p)
		in.checkAttributed(t, c)
		g.checkReleased(t, before)
	})

	t.Run("upstream hangs", func(t *testing.T) {
		s3, creds := s3Env(t)
		in := newInjector(t, strings.TrimPrefix(s3.Endpoint, "http://"), every(4, hang))
		g := newGateway(t, routeOpts{target: in.url(), creds: creds, payload: config.PayloadSigned,
			response: time.Second, idle: 500 * time.Millisecond})
		before, p, start, c := measure(), samplePeaks(), time.Now(), &tally{}
		load(t, workers, max(2, iterations/2), func(w, i int) { put(g, c, fmt.Sprintf("hang-%d-%d", w, i), true) })
		p.end()
		report(t, c, start, before, p)
		in.checkAttributed(t, c)
		g.checkReleased(t, before)
	})

	t.Run("slow upstream reads", func(t *testing.T) {
		s3, creds := s3Env(t)
		in := newInjector(t, strings.TrimPrefix(s3.Endpoint, "http://"), func(int64) faultMode { return slowReads })
		g := newGateway(t, routeOpts{target: in.url(), creds: creds, payload: config.PayloadStreaming, idle: 5 * time.Second})
		before, p, start, c := measure(), samplePeaks(), time.Now(), &tally{}
		var all []string
		var mu sync.Mutex
		load(t, workers, iterations, func(w, i int) {
			k := fmt.Sprintf("slow-%d-%d", w, i)
			mu.Lock()
			all = append(all, k)
			mu.Unlock()
			put(g, c, k, false)
		})
		p.end()
		report(t, c, start, before, p)
		checkStored(t, s3, all)
		g.checkReleased(t, before)
	})

	t.Run("config reloads", func(t *testing.T) {
		s3, creds := s3Env(t)
		o := routeOpts{target: mustURL(s3.Endpoint), creds: creds, payload: config.PayloadSigned}
		g := newGateway(t, o)
		before, p, start, c := measure(), samplePeaks(), time.Now(), &tally{}
		stop := make(chan struct{})
		var reloads atomic.Int64
		go func() {
			modes := []config.PayloadMode{config.PayloadSigned, config.PayloadStreaming, config.PayloadUnsigned}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				o.payload = modes[n%len(modes)]
				g.router.Load(g.table(t, o))
				reloads.Add(1)
			}
		}()
		load(t, workers, iterations, func(w, i int) {
			k := fmt.Sprintf("reload-%d-%d", w, i)
			put(g, c, k, false)
			get(g, c, k, false)
		})
		close(stop)
		p.end()
		report(t, c, start, before, p)
		t.Logf("%d reloads", reloads.Load())
		g.checkReleased(t, before)
	})

	t.Run("credential rotation", func(t *testing.T) {
		var keys sync.Map
		pairs := []sigv4.Credentials{{AccessKeyID: "AKIDROTATEA", SecretAccessKey: "secret-a"}, {AccessKeyID: "AKIDROTATEB", SecretAccessKey: "secret-b", SessionToken: "token-b"}}
		for _, k := range pairs {
			keys.Store(k.AccessKeyID, k)
		}
		up := verifyingUpstream(t, &keys)
		var calls atomic.Int64
		rotating := func(context.Context) (sigv4.Credentials, error) { return pairs[calls.Add(1)/7%2], nil }
		g := newGateway(t, routeOpts{target: mustURL(up.URL), creds: rotating, payload: config.PayloadStreaming})
		before, p, start, c := measure(), samplePeaks(), time.Now(), &tally{}
		load(t, workers, iterations, func(w, i int) { put(g, c, fmt.Sprintf("rot-%d-%d", w, i), false) })
		p.end()
		report(t, c, start, before, p)
		g.checkReleased(t, before)
	})

	t.Run("STS slow", func(t *testing.T) {
		sts := fakeSTS(t, 300*time.Millisecond, http.StatusOK)
		var keys sync.Map
		keys.Store(stsKey.AccessKeyID, stsKey)
		up := verifyingUpstream(t, &keys)
		g := newGateway(t, routeOpts{target: mustURL(up.URL), creds: assumeRole(t, sts.URL), payload: config.PayloadSigned})
		before, p, start, c := measure(), samplePeaks(), time.Now(), &tally{}
		load(t, workers, iterations, func(w, i int) { put(g, c, fmt.Sprintf("sts-%d-%d", w, i), false) })
		p.end()
		report(t, c, start, before, p)
		if n := sts.calls.Load(); n != 1 {
			t.Errorf("%d calls to STS; one cached answer should serve every request", n)
		}
		g.checkReleased(t, before, sts)
	})

	t.Run("STS down", func(t *testing.T) {
		sts := fakeSTS(t, 0, http.StatusServiceUnavailable)
		up := verifyingUpstream(t, &sync.Map{})
		g := newGateway(t, routeOpts{target: mustURL(up.URL), creds: assumeRole(t, sts.URL), payload: config.PayloadSigned})
		before, p, start, c := measure(), samplePeaks(), time.Now(), &tally{}
		load(t, workers, iterations, func(w, i int) {
			req, _ := http.NewRequest(http.MethodPut, g.URL+"/"+bucket+"/k", bytes.NewReader(content("k")))
			resp, err := g.client.Do(req)
			if err != nil {
				c.bad("PUT: %v", err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("X-Signway-Error") == "CredentialsUnavailable" {
				c.failed.Add(1)
			} else {
				c.bad("PUT with STS down: %d %.200s; want 503 CredentialsUnavailable", resp.StatusCode, body)
			}
		})
		p.end()
		report(t, c, start, before, p)
		t.Logf("%d calls to STS for %d requests", sts.calls.Load(), c.failed.Load())
		g.checkReleased(t, before, sts)
	})

	t.Run("client aborts", func(t *testing.T) {
		s3, creds := s3Env(t)
		big := "big-object"
		if status, body := s3.Do(t, http.MethodPut, "/"+bucket+"/"+big, content(big)); status != http.StatusOK {
			t.Fatalf("seeding: %d %s", status, body)
		}
		for _, mode := range []config.PayloadMode{config.PayloadSigned, config.PayloadStreaming, config.PayloadUnsigned} {
			t.Run(string(mode), func(t *testing.T) {
				g := newGateway(t, routeOpts{target: mustURL(s3.Endpoint), creds: creds, payload: mode, idle: 300 * time.Millisecond})
				addr := strings.TrimPrefix(g.URL, "http://")
				before, p, start, c := measure(), samplePeaks(), time.Now(), &tally{}
				var keys sync.Map
				load(t, workers, iterations, func(w, i int) {
					k := fmt.Sprintf("abort-%s-%d-%d", mode, w, i)
					keys.Store(k, true)
					abortAt(t, addr, k, big, (w+i)%5, c)
				})
				p.end()
				report(t, c, start, before, p)
				var all []string
				keys.Range(func(k, _ any) bool { all = append(all, k.(string)); return true })
				checkStored(t, s3, all)
				g.checkReleased(t, before)
			})
		}
	})
}

// abortAt plays a caller that goes away at one stage of a request.
func abortAt(t *testing.T, addr, key, big string, stage int, c *tally) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		c.bad("dial: %v", err)
		return
	}
	defer conn.Close()
	body := content(key)
	head := fmt.Sprintf("PUT /%s/%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", bucket, key, addr, len(body))
	switch stage {
	case 0: // in the headers
		io.WriteString(conn, head[:len(head)/2])
	case 1: // in the body
		io.WriteString(conn, head)
		conn.Write(body[:len(body)/2])
	case 2: // in the body, then silent until the body idle timeout
		io.WriteString(conn, head)
		conn.Write(body[:len(body)/2])
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusRequestTimeout {
			c.bad("stalled body: %v %v; want 408", err, resp)
			return
		}
	case 3: // after the body, before the answer
		io.WriteString(conn, head)
		conn.Write(body)
	case 4: // in the response
		fmt.Fprintf(conn, "GET /%s/%s HTTP/1.1\r\nHost: %s\r\n\r\n", bucket, big, addr)
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(conn, make([]byte, 1024)); err != nil {
			c.bad("reading the start of a response: %v", err)
			return
		}
	}
	c.failed.Add(1) // every one of these is a request the caller gave up
}

var stsKey = sigv4.Credentials{AccessKeyID: "ASIAFAULTSSTS", SecretAccessKey: "sts-secret", SessionToken: "sts-token"}

type stsServer struct {
	*httptestServer
	calls atomic.Int64
}

// CloseIdleConnections ends the SDK client's kept-alive connections from
// the server's side (the SDK's own transport is not reachable from here).
func (s *stsServer) CloseIdleConnections() { s.CloseClientConnections() }

// fakeSTS answers AssumeRole after delay with status (200: stsKey).
func fakeSTS(t *testing.T, delay time.Duration, status int) *stsServer {
	s := &stsServer{}
	s.httptestServer = newHTTPTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		time.Sleep(delay)
		w.Header().Set("Content-Type", "text/xml")
		if status != http.StatusOK {
			w.WriteHeader(status)
			io.WriteString(w, `<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>down for the test</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
			return
		}
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/faults/s</Arn><AssumedRoleId>AROAFAULTS:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			stsKey.AccessKeyID, stsKey.SecretAccessKey, stsKey.SessionToken, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	return s
}

// assumeRole is the credentials a route with assume_role gets, through the
// same cache, with STS at endpoint.
func assumeRole(t *testing.T, endpoint string) proxy.CredentialsFunc {
	prov, err := credentials.AssumeRole(baseKeys{}, credentials.AssumeRoleOptions{
		RoleARN: "arn:aws:iam::123456789012:role/faults", Region: "us-east-1", Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	cache := credentials.NewCache(prov, credentials.CacheOptions{})
	return func(ctx context.Context) (sigv4.Credentials, error) {
		c, err := cache.Retrieve(ctx)
		if err != nil {
			return sigv4.Credentials{}, err
		}
		return sigv4.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, nil
	}
}

// baseKeys are the long-term keys the role is assumed with.
type baseKeys struct{}

func (baseKeys) Retrieve(context.Context) (credentials.Credentials, error) {
	return credentials.Credentials{AccessKeyID: "AKIDBASE", SecretAccessKey: "base-secret", Source: "test keys"}, nil
}
