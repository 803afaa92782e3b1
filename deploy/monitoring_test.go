package deploy

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/signway/signway/internal/admin"
)

// exportedSeries returns every metric name signway's registry exports, with
// the label names of each. Vectors export nothing until a child exists, so
// every recording method is called once first.
func exportedSeries(t *testing.T) map[string]map[string]bool {
	t.Helper()
	m := admin.NewMetrics("test")
	m.ObserveRequest("r", "GET", 200, time.Millisecond)
	m.InFlightInc()
	m.SigningError("r", "upstream_mismatch")
	m.UpstreamError("r", admin.UpstreamTimeout)
	m.CredentialError("r")
	m.ConfigReload(errors.New("bad"))
	m.ObserveUpstream("r", 200, time.Millisecond)
	m.ObserveSigning("r", time.Millisecond)
	m.AddBodyBytes("r", 1, 1)
	m.AuthFailure("r", "missing")
	m.CallerRequest("r", "alice", 200)
	m.RateLimitStoreError()
	m.CredentialRefresh("s", nil)
	m.CredentialExpiry("s", time.Now().Add(time.Hour))
	m.ObserveSTSCall("AssumeRole", time.Millisecond, nil)
	m.ObserveUpstreamConns(fakeConns{})
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]map[string]bool)
	add := func(name string, labels map[string]bool) {
		if out[name] == nil {
			out[name] = make(map[string]bool)
		}
		for l := range labels {
			out[name][l] = true
		}
	}
	for _, mf := range mfs {
		ls := make(map[string]bool)
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				ls[lp.GetName()] = true
			}
		}
		name := mf.GetName()
		switch mf.GetType().String() {
		case "HISTOGRAM":
			add(name+"_count", ls)
			add(name+"_sum", ls)
			withLE := map[string]bool{"le": true}
			for l := range ls {
				withLE[l] = true
			}
			add(name+"_bucket", withLE)
		case "SUMMARY":
			add(name+"_count", ls)
			add(name+"_sum", ls)
			ls["quantile"] = true
			add(name, ls)
		default:
			add(name, ls)
		}
	}
	return out
}

type fakeConns struct{}

func (fakeConns) Opened() uint64      { return 1 }
func (fakeConns) Open() int64         { return 1 }
func (fakeConns) InFlight(bool) int64 { return 0 }

// targetLabels are added by Prometheus (or the Kubernetes service discovery)
// to every series scraped, so queries may use them freely.
var targetLabels = map[string]bool{"job": true, "instance": true, "namespace": true, "pod": true, "container": true, "service": true, "endpoint": true}

// checkExpr parses a PromQL expression and checks that every series it
// selects is exported by signway, with the labels it matches on.
func checkExpr(t *testing.T, where, expr string, exported map[string]map[string]bool) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return
	}
	selectors := 0
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		selectors++
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		have, ok := exported[name]
		if !ok {
			t.Errorf("%s: uses %s, which signway does not export", where, name)
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel && !have[m.Name] && !targetLabels[m.Name] {
				t.Errorf("%s: matches %s on label %q, which it does not have (has %v)", where, name, m.Name, keys(have))
			}
		}
		return nil
	})
	if selectors == 0 {
		t.Errorf("%s: selects no series: %s", where, expr)
	}
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

const alertsFile = "prometheus/alerts.yaml"

func TestAlertsUseExportedSeries(t *testing.T) {
	exported := exportedSeries(t)
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			checkExpr(t, "alert "+r.Alert, r.Expr, exported)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["runbook_url"] == "" {
				t.Errorf("alert %s: want a severity label and summary and runbook_url annotations", r.Alert)
			}
			// Each alert has its own section in docs/operations.md, which
			// its runbook_url points at.
			anchor := strings.ToLower(r.Alert)
			if !strings.HasSuffix(r.Annotations["runbook_url"], "docs/operations.md#"+anchor) {
				t.Errorf("alert %s: runbook_url %q, want one ending in docs/operations.md#%s", r.Alert, r.Annotations["runbook_url"], anchor)
			}
			if !regexp.MustCompile(`(?m)^#+ ` + r.Alert + `\s*$`).Match(ops) {
				t.Errorf("alert %s: docs/operations.md has no heading %q saying what to do", r.Alert, r.Alert)
			}
		}
	}
	if n < 8 {
		t.Errorf("%s holds %d alerts; expected the credential, upstream and gateway ones", alertsFile, n)
	}
}

// grafanaVars stand in for the dashboard's variables so that its queries
// parse as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$route", ".*", "$instance", ".*")

func TestDashboardUsesExportedSeries(t *testing.T) {
	exported := exportedSeries(t)
	b, err := os.ReadFile("grafana/signway.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" {
		t.Error("dashboard has no uid; provisioning needs one")
	}
	targets := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, tg := range p.Targets {
			targets++
			checkExpr(t, "panel "+p.Title+" target "+string(rune('A'+i)), grafanaVars.Replace(tg.Expr), exported)
		}
	}
	// label_values(METRIC, LABEL) in variables must name exported series too.
	lv := regexp.MustCompile(`^label_values\((\w+), (\w+)\)$`)
	for _, v := range dash.Templating.List {
		if v.Definition == "" {
			continue
		}
		m := lv.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: cannot read %q", v.Name, v.Definition)
			continue
		}
		if !exported[m[1]][m[2]] && !targetLabels[m[2]] {
			t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[2])
		}
	}
	if targets < 20 {
		t.Errorf("dashboard has %d queries; expected panels for traffic, signing, upstream, credentials and process", targets)
	}
}

// TestMetricsDocListsEverySeries keeps docs/metrics.md true: every signway_
// series exported is described there, and nothing described is missing.
func TestMetricsDocListsEverySeries(t *testing.T) {
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`(signway_[a-z0-9_]+)`").FindAllStringSubmatch(doc, -1) {
		documented[m[1]] = true
	}
	base := map[string]bool{}
	for name := range exportedSeries(t) {
		if !strings.HasPrefix(name, "signway_") {
			continue
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && strings.HasSuffix(b, "_seconds") {
				name = b
			}
		}
		base[name] = true
		if !documented[name] {
			t.Errorf("docs/metrics.md does not describe %s", name)
		}
	}
	for name := range documented {
		if !base[name] {
			t.Errorf("docs/metrics.md describes %s, which signway does not export", name)
		}
	}
}

// TestPromtoolCheckRules runs `promtool check rules`, the check Prometheus
// itself applies when loading the file. scripts/install-tools.sh installs
// promtool; without it the test skips, except in CI (SIGNWAY_E2E=require).
func TestPromtoolCheckRules(t *testing.T) {
	promtool := lookTool(t, "promtool")
	abs, err := filepath.Abs(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", "--lint=all", "--lint-fatal", abs).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", alertsFile, err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool printed no SUCCESS:\n%s", out)
	}
}

// lookTool finds a program installed by scripts/install-tools.sh, on PATH or
// in GOPATH/bin. Missing, it skips the test, or fails it when
// SIGNWAY_E2E=require.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.Split(strings.TrimSpace(string(gopath)), string(os.PathListSeparator))[0], "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := name + " not found on PATH or in GOPATH/bin: run scripts/install-tools.sh (make tools)"
	if os.Getenv("SIGNWAY_E2E") == "require" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
