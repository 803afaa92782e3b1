package main

import (
	"bufio"
	"math"
	"strings"
	"testing"
	"time"
)

const wrkOutput = `Running 10s test @ http://127.0.0.1:8080/x
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.12ms    2.01ms  30.00ms   75.00%
    Req/Sec     5.25k   400.00     6.00k    70.00%
  104523 requests in 10.01s, 120.00MB read
  Socket errors: connect 0, read 3, write 0, timeout 0
  Non-2xx or 3xx responses: 5
Requests/sec:  10442.12
Transfer/sec:     11.99MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{requests: 104523, reqPerSec: 10442.12, latencyAvg: "6.12ms", non2xx: 5,
		socketErrors: "connect 0, read 3, write 0, timeout 0"}
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Fatal("parsed wrk's error output as a result")
	}
}

func TestParseWrkLatencyDistribution(t *testing.T) {
	out := strings.Replace(wrkOutput, "  104523 requests", `  Latency Distribution
     50%  635.91us
     75%    0.87ms
     90%    1.13ms
     99%    3.92ms
  104523 requests`, 1)
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.p50 != 635910*time.Nanosecond || r.p99 != 3920*time.Microsecond {
		t.Fatalf("p50 %v p99 %v, want 635.91µs and 3.92ms", r.p50, r.p99)
	}
}

func TestUpstreamsFlag(t *testing.T) {
	c, err := parseConfig([]string{"-upstreams", "tls-h1,plain"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.upstreams) != 2 || !c.upstreams[0].tls || c.upstreams[0].h2 || c.upstreams[1].tls {
		t.Fatalf("upstreams %+v", c.upstreams)
	}
	if _, err := parseConfig([]string{"-upstreams", "h3"}); err == nil || !strings.Contains(err.Error(), `unknown origin "h3"`) {
		t.Fatalf("bad -upstreams: %v", err)
	}
}

func TestParseStatCPU(t *testing.T) {
	// comm with spaces and a ')' must not shift the fields.
	stat := "4242 (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 8 0 1000 0 0"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * time.Second; got != want {
		t.Fatalf("got %v, want %v (utime 150 + stime 50 ticks)", got, want)
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t    8192 kB\nVmRSS:\t 4096 kB\n"
	got, err := parseVmHWM(bufio.NewScanner(strings.NewReader(status)))
	if err != nil || got != 8192*1024 {
		t.Fatalf("got %d, %v", got, err)
	}
}

func TestMedianAndLabels(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
	var labels []string
	for _, pr := range labelProxies([]string{"bare", "bare", "signway"}) {
		labels = append(labels, pr.label)
	}
	if got := strings.Join(labels, ","); got != "bare,bare#2,signway" {
		t.Errorf("labels %s", got)
	}
}

// TestRoundRatios: a machine that slows down over the run moves both
// proxies' figures; the ratio round by round keeps what differs between them.
func TestRoundRatios(t *testing.T) {
	mk := func(label string, us ...int) *proxyResult {
		pr := &proxyResult{label: label}
		for i, u := range us {
			pr.samples = append(pr.samples, sample{round: i + 1, cpuPerReq: time.Duration(u) * time.Microsecond, proxyLabel: label})
		}
		return pr
	}
	for _, tc := range []struct {
		name      string
		base, pr  *proxyResult
		want      []float64
		spread    string
		mediansOf float64 // the ratio of medians, for contrast
	}{
		{
			name: "drift cancels out", base: mk("bare", 80, 80, 120, 120, 120), pr: mk("signway", 88, 88, 132, 132, 132),
			want: []float64{1.1, 1.1, 1.1, 1.1, 1.1}, spread: "1.10 (1.10-1.10)", mediansOf: 1.1,
		},
		{
			name: "a median taken from different rounds", base: mk("bare", 80, 120, 80, 120, 80), pr: mk("signway", 88, 132, 132, 132, 88),
			want: []float64{1.1, 1.1, 1.65, 1.1, 1.1}, spread: "1.10 (1.10-1.65)", mediansOf: 132.0 / 80,
		},
		{
			name: "only rounds both ran", base: mk("bare", 100, 100), pr: mk("signway", 110, 120, 130),
			want: []float64{1.1, 1.2}, spread: "1.15 (1.10-1.20)", mediansOf: 1.2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := roundRatios(tc.pr.samples, tc.base.samples, cpuMicros)
			if len(got) != len(tc.want) {
				t.Fatalf("roundRatios = %v, want %v", got, tc.want)
			}
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-9 {
					t.Errorf("round %d: ratio %v, want %v", i+1, got[i], tc.want[i])
				}
			}
			if s := ratioSpread(got); s != tc.spread {
				t.Errorf("ratioSpread = %q, want %q", s, tc.spread)
			}
			if m := medianOf(tc.pr.samples, cpuMicros) / medianOf(tc.base.samples, cpuMicros); math.Abs(m-tc.mediansOf) > 1e-9 {
				t.Errorf("ratio of medians %v, want %v", m, tc.mediansOf)
			}
		})
	}
	if s := ratioSpread(nil); s != "-" {
		t.Errorf("ratioSpread(nil) = %q, want -", s)
	}
}

// TestRenderTogether: the rounds with every proxy loaded at once get their
// own summary, with the ratios taken round by round.
func TestRenderTogether(t *testing.T) {
	mk := func(label string, us ...int) *proxyResult {
		pr := &proxyResult{label: label}
		for i, u := range us {
			s := sample{round: i + 1, cpuPerReq: time.Duration(u) * time.Microsecond, proxyLabel: label,
				wrk: wrkResult{reqPerSec: 1e6 / float64(u), p50: time.Millisecond, p99: 10 * time.Millisecond}}
			pr.samples = append(pr.samples, s)
			pr.together = append(pr.together, s)
		}
		return pr
	}
	results := []*proxyResult{mk("bare-pooled", 80, 120, 100), mk("signway", 88, 126, 120)}
	var b strings.Builder
	renderPhase(&b, config{connections: 64, togetherRounds: 3, skipUpload: true}, &phase{upstream: upstreamKinds["tls-h2"], results: results})
	out := b.String()
	for _, want := range []string{
		"every proxy under its own `wrk -t1 -c32` at the same time, 3 rounds",
		"| signway | 8333 | 120.0 | 0.91 (0.83-0.95) | 1.10 (1.05-1.20) | 1.00 (1.00-1.00) | 1.00 (1.00-1.00) |",
		"#### Rounds, loaded together",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
