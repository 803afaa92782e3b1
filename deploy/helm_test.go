package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/signway/signway/internal/config"
)

const chartDir = "helm/signway"

// rendered is one release's objects, decoded strictly into their types.
type rendered struct {
	kinds          []string
	deployment     *appsv1.Deployment
	service        *corev1.Service
	serviceAccount *corev1.ServiceAccount
	configMap      *corev1.ConfigMap
	hpa            *autoscalingv2.HorizontalPodAutoscaler
	pdb            *policyv1.PodDisruptionBudget
	netpol         *networkingv1.NetworkPolicy
	serviceMonitor *monitoringv1.ServiceMonitor
	rule           *monitoringv1.PrometheusRule
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render renders the chart as `helm template` would for a release "edge" in
// namespace "gateway", then decodes every object into its k8s.io/api (or
// prometheus-operator) type with unknown fields refused.
func render(t *testing.T, c *chart.Chart, vals map[string]any) rendered {
	t.Helper()
	caps := chartutil.DefaultCapabilities.Copy()
	rv, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{Name: "edge", Namespace: "gateway", IsInstall: true, Revision: 1}, caps)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(c, rv)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var r rendered
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		for _, doc := range strings.Split(out[name], "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := sigsyaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, doc)
			}
			var obj any
			switch meta.APIVersion + " " + meta.Kind {
			case "apps/v1 Deployment":
				r.deployment = &appsv1.Deployment{}
				obj = r.deployment
			case "v1 Service":
				r.service = &corev1.Service{}
				obj = r.service
			case "v1 ServiceAccount":
				r.serviceAccount = &corev1.ServiceAccount{}
				obj = r.serviceAccount
			case "v1 ConfigMap":
				r.configMap = &corev1.ConfigMap{}
				obj = r.configMap
			case "autoscaling/v2 HorizontalPodAutoscaler":
				r.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
				obj = r.hpa
			case "policy/v1 PodDisruptionBudget":
				r.pdb = &policyv1.PodDisruptionBudget{}
				obj = r.pdb
			case "networking.k8s.io/v1 NetworkPolicy":
				r.netpol = &networkingv1.NetworkPolicy{}
				obj = r.netpol
			case "monitoring.coreos.com/v1 ServiceMonitor":
				r.serviceMonitor = &monitoringv1.ServiceMonitor{}
				obj = r.serviceMonitor
			case "monitoring.coreos.com/v1 PrometheusRule":
				r.rule = &monitoringv1.PrometheusRule{}
				obj = r.rule
			default:
				t.Fatalf("%s: unexpected object %s %s", name, meta.APIVersion, meta.Kind)
			}
			if err := sigsyaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s: %s does not decode strictly: %v\n%s", name, meta.Kind, err, doc)
			}
			r.kinds = append(r.kinds, meta.Kind)
		}
	}
	sort.Strings(r.kinds)
	return r
}

func valuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return v.AsMap()
}

func TestChartRenders(t *testing.T) {
	c := loadChart(t)
	everything := map[string]any{
		"serviceAccount": map[string]any{
			"irsaRoleArn":        "arn:aws:iam::123456789012:role/signway",
			"podIdentityRoleArn": "arn:aws:iam::123456789012:role/signway-pod-identity",
		},
		"secretMounts":   []any{map[string]any{"name": "callers", "secretName": "signway-callers", "mountPath": "/etc/signway/secrets/callers"}},
		"envFromSecrets": []any{"signway-env"},
		"autoscaling":    map[string]any{"inFlightTarget": 200},
		"metrics": map[string]any{
			"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus"}},
			"prometheusRule": map[string]any{"enabled": true},
		},
		"image": map[string]any{"digest": "sha256:" + strings.Repeat("ab", 32)},
		"config": map[string]any{
			"callers": []any{map[string]any{"id": "reporting", "api_keys": []any{map[string]any{"file": "/etc/signway/secrets/callers/reporting"}}}},
			"routes": []any{map[string]any{"name": "data", "url": "https://data.s3.eu-west-1.amazonaws.com", "region": "eu-west-1",
				"auth": map[string]any{"methods": []any{"api_key"}}}},
		},
	}
	defaultKinds := []string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount"}
	tests := []struct {
		name  string
		vals  map[string]any
		kinds []string
		check func(t *testing.T, r rendered)
	}{
		{"defaults", nil, defaultKinds, func(t *testing.T, r rendered) {
			if r.deployment.Spec.Replicas != nil {
				t.Error("replicas set although the HPA owns them")
			}
			if r.serviceAccount.Annotations["eks.amazonaws.com/role-arn"] != "" {
				t.Error("an IRSA annotation without a role")
			}
			if got := r.deployment.Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/signway/signway:"+loadChart(t).Metadata.AppVersion {
				t.Errorf("image %s, want the appVersion tag", got)
			}
		}},
		{"everything on", everything, []string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"}, func(t *testing.T, r rendered) {
			sa := r.serviceAccount.Annotations
			if sa["eks.amazonaws.com/role-arn"] != "arn:aws:iam::123456789012:role/signway" || sa["eks.amazonaws.com/sts-regional-endpoints"] != "true" {
				t.Errorf("ServiceAccount annotations %v: want the IRSA role", sa)
			}
			if sa["signway.dev/pod-identity-role-arn"] == "" {
				t.Errorf("ServiceAccount annotations %v: want the Pod Identity role recorded", sa)
			}
			pod := r.deployment.Spec.Template.Spec
			if !hasMount(pod.Containers[0], "/etc/signway/secrets/callers") || pod.Volumes[len(pod.Volumes)-1].Secret == nil ||
				pod.Volumes[len(pod.Volumes)-1].Secret.SecretName != "signway-callers" {
				t.Errorf("the callers' Secret is not mounted by reference: %+v", pod.Volumes)
			}
			if len(pod.Containers[0].EnvFrom) != 1 || pod.Containers[0].EnvFrom[0].SecretRef.Name != "signway-env" {
				t.Errorf("envFrom %+v", pod.Containers[0].EnvFrom)
			}
			if !strings.Contains(pod.Containers[0].Image, "@sha256:") {
				t.Errorf("image %s: want the digest", pod.Containers[0].Image)
			}
			if len(r.hpa.Spec.Metrics) != 2 || r.hpa.Spec.Metrics[1].Pods.Metric.Name != "signway_requests_in_flight" {
				t.Errorf("HPA metrics %+v: want CPU and in-flight requests", r.hpa.Spec.Metrics)
			}
			if ep := r.serviceMonitor.Spec.Endpoints; len(ep) != 1 || ep[0].Port != "utility" || ep[0].Path != "/metrics" {
				t.Errorf("ServiceMonitor endpoints %+v", ep)
			}
			if r.serviceMonitor.Labels["release"] != "kube-prometheus" {
				t.Errorf("ServiceMonitor labels %v", r.serviceMonitor.Labels)
			}
			checkRuleMatchesAlertsFile(t, r.rule)
		}},
		{"no autoscaling", map[string]any{"autoscaling": map[string]any{"enabled": false}, "replicaCount": 3,
			"podDisruptionBudget": map[string]any{"enabled": false}, "networkPolicy": map[string]any{"enabled": false}},
			[]string{"ConfigMap", "Deployment", "Service", "ServiceAccount"}, func(t *testing.T, r rendered) {
				if r.deployment.Spec.Replicas == nil || *r.deployment.Spec.Replicas != 3 {
					t.Errorf("replicas %v, want 3", r.deployment.Spec.Replicas)
				}
			}},
		{"sidecar example", valuesFile(t, "values-sidecar.example.yaml"),
			[]string{"ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "ServiceAccount"}, func(t *testing.T, r rendered) {
				cs := r.deployment.Spec.Template.Spec.Containers
				if len(cs) != 2 || cs[1].Name != "app" {
					t.Fatalf("containers %d, want signway and the app", len(cs))
				}
				if !strings.Contains(r.configMap.Data["signway.yaml"], "address: 127.0.0.1:8080") {
					t.Errorf("the sidecar's signway listens beyond localhost:\n%s", r.configMap.Data["signway.yaml"])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, c, tt.vals)
			if !slices.Equal(r.kinds, tt.kinds) {
				t.Fatalf("rendered %v, want %v", r.kinds, tt.kinds)
			}
			checkCommon(t, r)
			tt.check(t, r)
		})
	}
}

func hasMount(c corev1.Container, path string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == path && m.ReadOnly })
}

// checkCommon holds for every values set: the hardening, the probes, a config
// signway accepts, mounted so that updates reach the pod, and objects that
// point at each other.
func checkCommon(t *testing.T, r rendered) {
	t.Helper()
	pod := r.deployment.Spec.Template.Spec
	sw := pod.Containers[0]
	if sw.Name != "signway" {
		t.Fatalf("first container %s, want signway", sw.Name)
	}
	psc, sc := pod.SecurityContext, sw.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and runAsUser 65532", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("container securityContext %+v: want a read-only root, no privilege escalation, every capability dropped", sc)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "utility" {
			t.Errorf("%s probe %+v: want GET %s on the utility port", name, p, path)
		}
	}
	probe("readiness", sw.ReadinessProbe, "/readyz")
	probe("liveness", sw.LivenessProbe, "/healthz")
	if sw.Resources.Requests.Cpu().IsZero() || sw.Resources.Requests.Memory().IsZero() || sw.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", sw.Resources)
	}
	if !hasMount(sw, "/etc/signway") {
		t.Error("the config is not mounted read-only at /etc/signway")
	}
	for _, m := range sw.VolumeMounts {
		if m.SubPath != "" {
			t.Errorf("mount %s uses subPath %s: ConfigMap and Secret updates never reach a subPath mount", m.MountPath, m.SubPath)
		}
	}
	if !slices.ContainsFunc(sw.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" && !m.ReadOnly }) {
		t.Error("no writable /tmp for the spool under a read-only root")
	}
	if !slices.Contains(sw.Args, "--config=/etc/signway/signway.yaml") {
		t.Errorf("args %v: want --config=/etc/signway/signway.yaml", sw.Args)
	}
	if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds <= 30 {
		t.Errorf("terminationGracePeriodSeconds %v: want more than the 30 s shutdown timeout", pod.TerminationGracePeriodSeconds)
	}
	if len(pod.TopologySpreadConstraints) == 0 {
		t.Error("no topology spread constraints")
	}
	if pod.ServiceAccountName != r.serviceAccount.Name {
		t.Errorf("pod uses ServiceAccount %s, chart creates %s", pod.ServiceAccountName, r.serviceAccount.Name)
	}

	// The config file is one signway accepts, on the ports the pod exposes.
	path := filepath.Join(t.TempDir(), "signway.yaml")
	if err := os.WriteFile(path, []byte(r.configMap.Data["signway.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the chart's signway.yaml is not a valid config: %v\n%s", err, r.configMap.Data["signway.yaml"])
	}
	ports := map[string]int32{}
	for _, p := range sw.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for name, addr := range map[string]string{"http": cfg.Listen.Address, "utility": cfg.Utility.Address} {
		if !strings.HasSuffix(addr, ":"+strconv.Itoa(int(ports[name]))) {
			t.Errorf("config listens on %s, the container's %s port is %d", addr, name, ports[name])
		}
	}

	sel := r.deployment.Spec.Selector.MatchLabels
	if !reflect.DeepEqual(sel, subset(r.deployment.Spec.Template.Labels, sel)) {
		t.Errorf("selector %v does not match the pod labels %v", sel, r.deployment.Spec.Template.Labels)
	}
	if r.service != nil && !reflect.DeepEqual(r.service.Spec.Selector, sel) {
		t.Errorf("Service selects %v, pods are %v", r.service.Spec.Selector, sel)
	}
	if r.pdb != nil && !reflect.DeepEqual(r.pdb.Spec.Selector.MatchLabels, sel) {
		t.Errorf("PDB selects %v, pods are %v", r.pdb.Spec.Selector.MatchLabels, sel)
	}
	if r.netpol != nil && !reflect.DeepEqual(r.netpol.Spec.PodSelector.MatchLabels, sel) {
		t.Errorf("NetworkPolicy selects %v, pods are %v", r.netpol.Spec.PodSelector.MatchLabels, sel)
	}
	if r.hpa != nil && r.hpa.Spec.ScaleTargetRef.Name != r.deployment.Name {
		t.Errorf("HPA scales %s, not the Deployment %s", r.hpa.Spec.ScaleTargetRef.Name, r.deployment.Name)
	}
	if r.netpol != nil && !slices.ContainsFunc(r.netpol.Spec.Egress, func(e networkingv1.NetworkPolicyEgressRule) bool {
		return len(e.Ports) == 1 && e.Ports[0].Port.IntValue() == 443 && len(e.To) == 0
	}) {
		t.Error("the NetworkPolicy does not let signway reach AWS on 443")
	}
}

func subset(m, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// checkRuleMatchesAlertsFile: the chart ships the same alerts as
// deploy/prometheus/alerts.yaml, byte for byte in its file, rule for rule in
// the PrometheusRule.
func checkRuleMatchesAlertsFile(t *testing.T, rule *monitoringv1.PrometheusRule) {
	t.Helper()
	src, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	copyInChart, err := os.ReadFile(filepath.Join(chartDir, "files/alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, copyInChart) {
		t.Errorf("%s/files/alerts.yaml differs from %s: cp %s %s/files/alerts.yaml", chartDir, alertsFile, alertsFile, chartDir)
	}
	var want struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}
	if err := sigsyaml.UnmarshalStrict(src, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rule.Spec.Groups, want.Groups) {
		t.Errorf("the PrometheusRule's groups differ from %s", alertsFile)
	}
}

// TestChartLint runs the checks of `helm lint --strict` through the Helm SDK
// (the same package the helm binary calls), for each values set.
func TestChartLint(t *testing.T) {
	for _, vals := range []map[string]any{nil, valuesFile(t, "values-sidecar.example.yaml")} {
		res := lint.AllWithKubeVersion(chartDir, vals, "gateway", nil)
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("helm lint: %s", m)
			} else {
				t.Logf("helm lint: %s", m)
			}
		}
	}
}
