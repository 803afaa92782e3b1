package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sample builds a YAML value for type t with every field set; variant makes
// the values differ between two samples. A struct type already on the path
// (assume_role.chain holds AssumeRoles) gets an empty mapping, which
// setAll skips the same way.
func sample(t reflect.Type, variant int, path []reflect.Type) any {
	switch t {
	case secretType, apiKeyType:
		return fmt.Sprintf("${EVERY_FIELD_%d}", variant)
	case durationType:
		return fmt.Sprintf("%ds", 5+variant)
	case sizeType:
		return fmt.Sprintf("%dMiB", 1+variant)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return sample(t.Elem(), variant, path)
	case reflect.Struct:
		m := map[string]any{}
		if slices.Contains(path, t) {
			return m
		}
		for key, idx := range yamlFields(t) {
			m[key] = sample(t.FieldByIndex(idx).Type, variant, append(path, t))
		}
		return m
	case reflect.Slice:
		return []any{sample(t.Elem(), variant, path)}
	case reflect.Map:
		return map[string]any{"X-Every-Field": sample(t.Elem(), variant, path)}
	case reflect.String:
		return fmt.Sprintf("v%d", variant)
	case reflect.Bool:
		return variant%2 == 0
	case reflect.Int, reflect.Int64:
		return 7 + variant
	case reflect.Float64:
		return 0.5 + float64(variant)
	}
	return fmt.Sprintf("no sample for %s", t) // decoding it reports the type
}

// setAll reports every field of v that is still zero, and every shared
// list, map or pointer with shared (when given), with its path.
func setAll(v reflect.Value, path string, stack []reflect.Type, report func(string)) {
	switch v.Type() {
	case secretType, apiKeyType:
		if v.IsZero() {
			report(path)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			report(path)
			return
		}
		setAll(v.Elem(), path, stack, report)
	case reflect.Struct:
		if slices.Contains(stack, v.Type()) {
			return
		}
		for key, idx := range yamlFields(v.Type()) {
			setAll(v.FieldByIndex(idx), joinPath(path, key), append(stack, v.Type()), report)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			report(path)
		}
		for i := range v.Len() {
			setAll(v.Index(i), fmt.Sprintf("%s[%d]", path, i), stack, report)
		}
	case reflect.Map:
		if v.Len() == 0 {
			report(path)
		}
	default:
		if v.IsZero() {
			report(path)
		}
	}
}

// decodeSample decodes a sample of T through the config decoder.
func decodeSample[T any](t *testing.T, variant int) (*T, []Problem) {
	t.Helper()
	b, err := yaml.Marshal(sample(reflect.TypeFor[T](), variant, nil))
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) { return strings.ToLower(name), true }
	d := &decoder{lookupEnv: env, lines: map[string]int{}}
	out := new(T)
	d.decode(&root, reflect.ValueOf(out).Elem(), "")
	return out, d.problems
}

// TestDecodeEveryField decodes a config with every field set, so a field
// whose type the decoder cannot read fails here rather than in a user's
// hands.
func TestDecodeEveryField(t *testing.T) {
	cfg, problems := decodeSample[Config](t, 0)
	for _, p := range problems {
		t.Errorf("decoding: %s", p)
	}
	setAll(reflect.ValueOf(cfg).Elem(), "", nil, func(p string) { t.Errorf("%s was not decoded", p) })
}

// TestDecodeUnsupportedType: a field type the decoder has no rule for is a
// problem naming the field, not a panic.
func TestDecodeUnsupportedType(t *testing.T) {
	var v struct {
		C chan int       `yaml:"c"`
		M map[int]string `yaml:"m"`
		U uint8          `yaml:"u"`
		S string         `yaml:"s"`
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("c: 1\nm: {1: a}\nu: 2\ns: fine\n"), &root); err != nil {
		t.Fatal(err)
	}
	d := &decoder{lookupEnv: func(string) (string, bool) { return "", false }, lines: map[string]int{}}
	d.decode(&root, reflect.ValueOf(&v).Elem(), "")
	var fields []string
	for _, p := range d.problems {
		if !strings.Contains(p.Message, "cannot read a value of type") {
			t.Errorf("unexpected problem %s", p)
		}
		fields = append(fields, p.Field)
	}
	slices.Sort(fields)
	if !slices.Equal(fields, []string{"c", "m", "u"}) || v.S != "fine" {
		t.Errorf("problems for %q and s = %q, want c, m, u and s decoded", fields, v.S)
	}
}

// TestMergeAndCloneCoverEveryField checks the hand-written merge and clone
// against a config with every field set: nothing is lost, the layer on top
// wins, and a clone shares no list, map or pointer with its original.
func TestMergeAndCloneCoverEveryField(t *testing.T) {
	a, pa := decodeSample[Config](t, 0)
	b, pb := decodeSample[Config](t, 1)
	if len(pa)+len(pb) > 0 {
		t.Fatalf("decoding: %v %v", pa, pb)
	}
	full, other := a.Defaults, b.Defaults
	for _, c := range []struct {
		name      string
		got, want Settings
	}{
		{"over nothing", merge(Settings{}, full), full},
		{"under nothing", merge(full, Settings{}), full},
		{"over another", merge(other, full), full},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("merge %s:\n got %+v\nwant %+v", c.name, c.got, c.want)
		}
	}
	// Header maps are united; only what over leaves out comes from base.
	over := full.clone()
	over.Headers.Add = map[string]string{"X-Other": "o"}
	if got := merge(other, over).Headers.Add; !reflect.DeepEqual(got, map[string]string{"X-Other": "o", "X-Every-Field": "v1"}) {
		t.Errorf("merged headers.add = %v", got)
	}

	c := a.clone()
	if !reflect.DeepEqual(c, a) {
		t.Fatal("clone differs from its original")
	}
	shared(t, reflect.ValueOf(c).Elem(), reflect.ValueOf(a).Elem(), "")
	m := merge(full, Settings{})
	shared(t, reflect.ValueOf(m), reflect.ValueOf(full), "merged")
}

// shared reports lists, maps and pointers that x and y both point into.
func shared(t *testing.T, x, y reflect.Value, path string) {
	t.Helper()
	switch x.Kind() {
	case reflect.Pointer:
		if !x.IsNil() && x.Pointer() == y.Pointer() {
			t.Errorf("%s: the same pointer", path)
		}
		if !x.IsNil() && !y.IsNil() {
			shared(t, x.Elem(), y.Elem(), path)
		}
	case reflect.Map, reflect.Slice:
		if x.Len() > 0 && x.Pointer() == y.Pointer() {
			t.Errorf("%s: the same backing store", path)
		}
		if x.Kind() == reflect.Slice {
			for i := range min(x.Len(), y.Len()) {
				shared(t, x.Index(i), y.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	case reflect.Struct:
		for i := range x.NumField() {
			if x.Type().Field(i).IsExported() {
				shared(t, x.Field(i), y.Field(i), joinPath(path, x.Type().Field(i).Name))
			}
		}
	}
}
