package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// finalStage is what deploy/Dockerfile's last stage sets.
type finalStage struct {
	base        string
	copies      map[string]string // source -> destination, from COPY --from=build
	config      v1.Config
	healthcheck []string
	unsupported []string // instructions parseDockerfile does not apply
}

// parseDockerfile reads the instructions of the Dockerfile's final stage
// that make up the image config, with ARG defaults (overridden by args)
// substituted.
func parseDockerfile(t *testing.T, file string, args map[string]string) finalStage {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	var st finalStage
	vars := map[string]string{}
	expand := func(s string) string {
		return os.Expand(s, func(k string) string { return vars[k] })
	}
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			fields := strings.Fields(rest)
			st = finalStage{base: fields[len(fields)-1], copies: map[string]string{},
				config: v1.Config{ExposedPorts: map[string]struct{}{}, Labels: map[string]string{}}}
			if strings.Contains(rest, " AS ") || strings.Contains(rest, " as ") {
				st.base = fields[len(fields)-3]
			}
			vars = map[string]string{}
		case "ARG":
			for _, a := range strings.Fields(rest) {
				k, v, _ := strings.Cut(a, "=")
				if o, ok := args[k]; ok {
					v = o
				}
				vars[k] = v
			}
		case "COPY":
			f := strings.Fields(rest)
			if len(f) == 3 && strings.HasPrefix(f[0], "--from=") {
				st.copies[f[1]] = f[2]
			}
		case "USER":
			st.config.User = expand(rest)
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				st.config.ExposedPorts[p] = struct{}{}
			}
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &st.config.Entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s: want the exec (JSON) form, which needs no shell: %v", rest, err)
			}
		case "HEALTHCHECK":
			_, cmd, ok := strings.Cut(rest, " CMD ")
			if !ok {
				t.Fatalf("HEALTHCHECK %s: no CMD", rest)
			}
			if err := json.Unmarshal([]byte(cmd), &st.healthcheck); err != nil {
				t.Fatalf("HEALTHCHECK CMD %s: want the exec (JSON) form, which needs no shell: %v", cmd, err)
			}
			hc := &v1.HealthConfig{Test: append([]string{"CMD"}, st.healthcheck...)}
			for _, f := range strings.Fields(strings.SplitN(rest, " CMD ", 2)[0]) {
				k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
				var dst *time.Duration
				switch k {
				case "interval":
					dst = &hc.Interval
				case "timeout":
					dst = &hc.Timeout
				case "start-period":
					dst = &hc.StartPeriod
				case "retries":
					hc.Retries, _ = strconv.Atoi(v)
				}
				if dst != nil {
					d, err := time.ParseDuration(v)
					if err != nil {
						t.Fatalf("HEALTHCHECK --%s=%s: %v", k, v, err)
					}
					*dst = d
				}
			}
			st.config.Healthcheck = hc
		case "LABEL":
			for _, kv := range splitLabels(rest) {
				k, v, _ := strings.Cut(kv, "=")
				st.config.Labels[k] = expand(strings.Trim(v, `"`))
			}
		case "ENV", "WORKDIR", "CMD", "VOLUME", "STOPSIGNAL", "SHELL", "ONBUILD":
			st.unsupported = append(st.unsupported, instr)
		}
	}
	if len(st.unsupported) > 0 {
		t.Fatalf("%v in the final stage: teach parseDockerfile about them", st.unsupported)
	}
	return st
}

// splitLabels splits `k="v w" k2="x"` on spaces outside quotes.
func splitLabels(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

type tarEntry struct {
	name string
	mode int64
	uid  int
	dir  bool
	body []byte
}

func tarLayer(t *testing.T, entries []tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: time.Unix(0, 0)}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// distrolessStandIn holds what the final stage relies on from
// gcr.io/distroless/static:nonroot (not reachable from here): the nonroot
// user, CA certificates and a /tmp. It has no shell, as distroless.
func distrolessStandIn(t *testing.T) v1.Layer {
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Logf("no host CA bundle to copy (%v); the stand-in has none", err)
	}
	return tarLayer(t, []tarEntry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, body: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, body: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: ca},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: 65532, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	})
}

// TestImage builds the image of deploy/Dockerfile without a Docker daemon:
// the binary built as its build stage does, on a stand-in for the distroless
// base, with the config of its final stage, written as an OCI layout. Then it
// reads the layout back and checks what a cluster's admission policies look
// for: a non-root user, an exec-form entrypoint that exists and is static,
// the exposed ports, the OCI labels, a health check signway itself answers,
// and no shell anywhere in the image.
func TestImage(t *testing.T) {
	const version = "v0.0.0-imagetest"
	st := parseDockerfile(t, "Dockerfile", map[string]string{"VERSION": version})
	if !strings.HasPrefix(st.base, "gcr.io/distroless/static") || !strings.HasSuffix(st.base, ":nonroot") {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static...:nonroot (no shell, CA certificates, user 65532)", st.base)
	}
	dest, ok := st.copies["/out/signway"]
	if !ok {
		t.Fatalf("the final stage does not COPY /out/signway from the build stage (copies: %v)", st.copies)
	}

	// The build stage's command: static, trimmed, versioned.
	dir := t.TempDir()
	bin := filepath.Join(dir, "signway")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -X main.version="+version, "-o", bin, "../cmd/signway")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	img, err := mutate.AppendLayers(empty.Image, distrolessStandIn(t),
		tarLayer(t, []tarEntry{{name: strings.TrimPrefix(dest, "/"), mode: 0o755, body: binary}}))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config = st.config
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ociDir := filepath.Join(dir, "oci")
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version})); err != nil {
		t.Fatal(err)
	}

	// From here on, only what the layout holds.
	idx, err := layout.ImageIndexFromPath(ociDir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index: %v, %d manifests", err, len(im.Manifests))
	}
	got, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	gcf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := gcf.Config
	uid, _, _ := strings.Cut(c.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("User %q: want a numeric non-root UID (Kubernetes' runAsNonRoot cannot check a name)", c.User)
	} else if n != 65532 {
		t.Errorf("User %q: want 65532, distroless' nonroot and the chart's runAsUser", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/signway"}) || len(c.Cmd) != 0 {
		t.Errorf("Entrypoint %q Cmd %q: want [/signway] and no Cmd, so that arguments are signway's", c.Entrypoint, c.Cmd)
	}
	for _, port := range []string{"8080/tcp", "9090/tcp"} {
		if _, ok := c.ExposedPorts[port]; !ok {
			t.Errorf("port %s not exposed (exposed: %v)", port, c.ExposedPorts)
		}
	}
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.source", "org.opencontainers.image.licenses", "org.opencontainers.image.description"} {
		if c.Labels[l] == "" {
			t.Errorf("label %s missing", l)
		}
	}
	if v := c.Labels["org.opencontainers.image.version"]; v != version {
		t.Errorf("label org.opencontainers.image.version = %q, want the build's %q", v, version)
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/signway", "healthcheck"}) || c.Healthcheck.Interval <= 0 || c.Healthcheck.Timeout <= 0 {
		t.Errorf("Healthcheck %+v: want CMD /signway healthcheck with an interval and a timeout", c.Healthcheck)
	}

	// The filesystem: the entrypoint is there, executable and static; no shell.
	files := map[string]*tar.Header{}
	fsDir := filepath.Join(dir, "rootfs")
	rc := mutate.Extract(got)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := "/" + strings.TrimPrefix(path.Clean(h.Name), "/")
		files[name] = h
		if name == c.Entrypoint[0] {
			b, _ := io.ReadAll(tr)
			if err := os.MkdirAll(fsDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(fsDir, "signway"), b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, h := range files {
		switch path.Base(name) {
		case "sh", "bash", "ash", "dash", "zsh", "busybox":
			t.Errorf("the image has a shell: %s", name)
		}
		if h.Typeflag == tar.TypeReg && h.Mode&0o002 != 0 {
			t.Errorf("%s is world-writable", name)
		}
	}
	entry, ok := files[c.Entrypoint[0]]
	if !ok {
		t.Fatalf("entrypoint %s is not in the image", c.Entrypoint[0])
	}
	if entry.Mode&0o111 == 0 || entry.Uid != 0 {
		t.Errorf("entrypoint mode %o owner %d: want executable and owned by root (so user 65532 cannot change it)", entry.Mode, entry.Uid)
	}
	if tmp, ok := files["/tmp"]; !ok || tmp.Mode&0o1777 != 0o1777 {
		t.Error("no world-writable sticky /tmp for the spool (mount a tmpfs there with a read-only root)")
	}
	extracted := filepath.Join(fsDir, "signway")
	f, err := elf.Open(extracted)
	if err != nil {
		t.Fatalf("entrypoint is not an ELF binary: %v", err)
	}
	libs, _ := f.ImportedLibraries()
	interp := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	f.Close()
	if interp || len(libs) > 0 {
		t.Errorf("entrypoint is dynamically linked (interpreter %v, libraries %v): build with CGO_ENABLED=0", interp, libs)
	}
	// It runs as built, and knows the subcommand the health check calls.
	if runtime.GOOS == "linux" {
		out, err := exec.Command(extracted, "version").CombinedOutput()
		if f := strings.Fields(string(out)); err != nil || len(f) < 2 || f[0] != "signway" || f[1] != version {
			t.Errorf("%s version: %v %q, want it to start with %q", c.Entrypoint[0], err, out, "signway "+version)
		}
		out, err = exec.Command(extracted, append(c.Healthcheck.Test[2:], "-h")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "utility-port") {
			t.Errorf("%s %s -h: %v %s", c.Entrypoint[0], strings.Join(c.Healthcheck.Test[2:], " "), err, out)
		}
	}
	t.Logf("OCI layout in %s, image %s", ociDir, fmt.Sprint(im.Manifests[0].Digest))
}
