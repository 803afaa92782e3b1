package reqinfo

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

type recordingTracer struct {
	started []Phase
	ended   []string
}

func (r *recordingTracer) StartPhase(ctx context.Context, p Phase, h http.Header) (context.Context, func(int, error)) {
	r.started = append(r.started, p)
	if h != nil {
		h.Set("Traceparent", "set-by-tracer")
	}
	return ctx, func(status int, err error) {
		r.ended = append(r.ended, p.String()+":"+http.StatusText(status)+":"+errString(err))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestBeginTimesPhasesAndCallsTheTracer(t *testing.T) {
	clock := time.Unix(0, 0)
	tr := &recordingTracer{}
	info := &Info{Tracer: tr, Now: func() time.Time { return clock }}
	ctx := With(context.Background(), info)
	SetCaller(ctx, "ci-job")
	From(ctx).Route = "s3"

	_, end := Begin(ctx, Credentials, nil)
	clock = clock.Add(3 * time.Millisecond)
	end.End(0, errors.New("no keys"))
	_, end = Begin(ctx, Signing, nil)
	clock = clock.Add(20 * time.Microsecond)
	end.End(0, nil)
	h := http.Header{}
	_, end = Begin(ctx, Upstream, h)
	clock = clock.Add(40 * time.Millisecond)
	end.End(http.StatusForbidden, nil)

	want := map[Phase]time.Duration{Credentials: 3 * time.Millisecond, Signing: 20 * time.Microsecond, Upstream: 40 * time.Millisecond}
	for p, d := range want {
		if got := info.Duration(p); got != d {
			t.Errorf("%s: %s, want %s", p, got, d)
		}
	}
	if info.UpstreamStatus != http.StatusForbidden || info.Caller != "ci-job" || info.Route != "s3" {
		t.Errorf("info = %+v", info)
	}
	if h.Get("Traceparent") != "set-by-tracer" {
		t.Error("the tracer did not get the upstream request's header")
	}
	wantEnded := []string{"credentials::no keys", "signing::", "upstream:Forbidden:"}
	if len(tr.ended) != 3 {
		t.Fatalf("ended %v", tr.ended)
	}
	for i, w := range wantEnded {
		if tr.ended[i] != w {
			t.Errorf("span %d ended as %q, want %q", i, tr.ended[i], w)
		}
	}
}

func TestBeginWithoutInfoRecordsNothing(t *testing.T) {
	ctx := context.Background()
	got, end := Begin(ctx, Upstream, http.Header{})
	if d := end.End(200, nil); d < 0 { // timed for the caller's metrics, recorded nowhere
		t.Errorf("End returned %s", d)
	}
	if got != ctx || From(ctx) != nil {
		t.Fatal("Begin changed a context without an Info")
	}
	SetCaller(ctx, "x") // no Info: nothing to set, and no panic
}

func TestPhaseNames(t *testing.T) {
	for p, want := range map[Phase]string{Credentials: "credentials", Signing: "signing", Upstream: "upstream", 9: "unknown"} {
		if p.String() != want {
			t.Errorf("%d: %q", p, p.String())
		}
	}
}
