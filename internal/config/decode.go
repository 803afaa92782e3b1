package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder maps a yaml.Node tree onto the config structs itself, rather than
// through yaml.v3's Decode, so that every problem (unknown key, wrong type,
// undefined variable) is collected with its field path and line instead of
// stopping at the first, and so that secrets are read as references.
type decoder struct {
	lookupEnv func(string) (string, bool)
	lines     map[string]int
	problems  []Problem
}

func (d *decoder) problem(field string, line int, format string, a ...any) {
	d.problems = append(d.problems, Problem{Field: field, Line: line, Message: fmt.Sprintf(format, a...)})
}

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[Duration]()
	sizeType     = reflect.TypeFor[ByteSize]()
)

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// decode fills v from n; path names v for problems.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if _, ok := d.lines[path]; !ok && n != nil {
		d.lines[path] = n.Line
	}
	if isNull(n) {
		return // absent and null both mean "not set": the zero value
	}
	switch v.Type() {
	case secretType:
		d.decodeSecret(n, v, path)
		return
	case apiKeyType:
		d.decodeAPIKey(n, v, path)
		return
	case durationType, sizeType:
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		var err error
		if v.Type() == durationType {
			var x Duration
			x, err = ParseDuration(s)
			v.SetInt(int64(x))
		} else {
			var x ByteSize
			x, err = ParseByteSize(s)
			v.SetInt(int64(x))
		}
		if err != nil {
			d.problem(path, n.Line, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.problem(path, n.Line, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			d.unsupported(n, v, path)
			return
		}
		if n.Kind != yaml.MappingNode {
			d.problem(path, n.Line, "expected a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		d.eachKey(n, path, func(key string, kn, vn *yaml.Node) {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(vn, e, path+"."+key)
			m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
		})
		v.Set(m)
	case reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path); ok {
			b, err := strconv.ParseBool(s)
			if err != nil {
				d.problem(path, n.Line, "%q is not true or false", s)
			}
			v.SetBool(b)
		}
	case reflect.Float64:
		if s, ok := d.scalar(n, path); ok {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				d.problem(path, n.Line, "%q is not a number", s)
			}
			v.SetFloat(f)
		}
	case reflect.Int, reflect.Int64:
		if s, ok := d.scalar(n, path); ok {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				d.problem(path, n.Line, "%q is not a whole number", s)
			}
			v.SetInt(i)
		}
	default:
		d.unsupported(n, v, path)
	}
}

// unsupported reports a field of a type the decoder has no rule for: a
// mistake in signway, not in the file, but reported like any other problem
// so that loading a config never panics.
func (d *decoder) unsupported(n *yaml.Node, v reflect.Value, path string) {
	d.problem(path, n.Line, "signway cannot read a value of type %s here (this is a bug in signway: please report it)", v.Type())
}

// eachKey walks a mapping's keys, reporting duplicates and non-string keys.
// Merge keys (<<) are expanded first so that keys written here win.
func (d *decoder) eachKey(n *yaml.Node, path string, f func(key string, kn, vn *yaml.Node)) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if kn := n.Content[i]; kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" {
			for _, m := range mergeSources(resolve(n.Content[i+1])) {
				d.eachKey(m, path, f)
			}
		}
	}
	explicit := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		switch {
		case kn.Tag == "!!merge":
			continue
		case kn.Kind != yaml.ScalarNode:
			d.problem(path, kn.Line, "a key must be a plain name, got %s", kindName(kn))
			continue
		}
		if first, dup := explicit[kn.Value]; dup {
			d.problem(joinPath(path, kn.Value), kn.Line, "key %q is already set on line %d", kn.Value, first)
			continue
		}
		explicit[kn.Value] = kn.Line
		f(kn.Value, kn, vn)
	}
}

func mergeSources(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	if n.Kind == yaml.SequenceNode {
		for _, e := range n.Content {
			if e = resolve(e); e != nil && e.Kind == yaml.MappingNode {
				out = append(out, e)
			}
		}
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(path, n.Line, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	d.eachKey(n, path, func(key string, kn, vn *yaml.Node) {
		fp := joinPath(path, key)
		idx, ok := fields[key]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if s := suggest(key, fields); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.problem(fp, kn.Line, "%s", msg)
			return
		}
		d.lines[fp] = kn.Line
		d.decode(vn, v.FieldByIndex(idx), fp)
	})
}

// yamlFields maps a struct's YAML keys to field indexes, flattening
// ",inline" embedded structs.
func yamlFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if opts == "inline" {
			for k, idx := range yamlFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	return out
}

// suggest returns the known key closest to a misspelt one, if close enough.
func suggest(key string, fields map[string][]int) string {
	best, bestD := "", 3
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	for k := range fields {
		if norm(k) == norm(key) || norm(k) == strings.ReplaceAll(norm(key), "_", "") {
			return k
		}
		if dist := levenshtein(norm(key), k); dist < bestD || dist == bestD && k < best {
			best, bestD = k, dist
		}
	}
	if bestD > 2 {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// scalar returns a scalar's value with ${VAR} expanded.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.problem(path, n.Line, "expected a single value, got %s", kindName(n))
		return "", false
	}
	s, errs := expand(n.Value, d.lookupEnv)
	for _, e := range errs {
		d.problem(path, n.Line, "%s", e)
	}
	return s, len(errs) == 0
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${NAME} and ${NAME:-default} (the default applies when the
// variable is unset or empty, as in the shell) and turns $$ into $. Any other
// $ is literal, so values such as regexes or passwords keep their dollars.
func expand(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var errs []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) || s[i+1] != '$' && s[i+1] != '{' {
			b.WriteByte(c)
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			errs = append(errs, fmt.Sprintf("unterminated ${ in %q (write $$ for a literal $)", s))
			b.WriteString(s[i:])
			break
		}
		inner := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !varName.MatchString(name) {
			errs = append(errs, fmt.Sprintf("${%s}: %q is not an environment variable name", inner, name))
		} else if val, ok := lookup(name); ok && (val != "" || !hasDef) {
			b.WriteString(val)
		} else if hasDef {
			b.WriteString(def)
		} else {
			errs = append(errs, fmt.Sprintf("environment variable %s is not set (give a default with ${%s:-VALUE})", name, name))
		}
		i += end
	}
	return b.String(), errs
}

var secretRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// decodeSecret accepts only references, so a key never sits in a config file
// that is committed, copied into images, or printed by a tool.
func (d *decoder) decodeSecret(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.MappingNode {
		var ref struct {
			File string `yaml:"file"`
		}
		d.decodeStruct(n, reflect.ValueOf(&ref).Elem(), path)
		if ref.File == "" {
			d.problem(path+".file", n.Line, "a file reference needs a path: {file: /run/secrets/NAME}")
			return
		}
		v.Set(reflect.ValueOf(FileSecret(ref.File)))
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.problem(path, n.Line, "expected \"${ENV_VAR}\" or {file: PATH}, got %s", kindName(n))
		return
	}
	m := secretRef.FindStringSubmatch(strings.TrimSpace(n.Value))
	if m == nil {
		// Never echo the value: it may be the secret itself.
		d.problem(path, n.Line, "must be a reference, \"${ENV_VAR}\" or {file: PATH}: a key written in the config file would be stored and shown with it")
		return
	}
	val, ok := d.lookupEnv(m[1])
	switch {
	case !ok:
		d.problem(path, n.Line, "environment variable %s is not set", m[1])
	case val == "":
		d.problem(path, n.Line, "environment variable %s is empty", m[1])
	default:
		v.Set(reflect.ValueOf(EnvSecret(m[1], val)))
	}
}
