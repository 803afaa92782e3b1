package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// The JSON Schema for editors is generated from the structs and their field
// comments, so it cannot drift from the loader:
//
//	go test ./internal/config -run TestSchemaUpToDate -update
var update = flag.Bool("update", false, "rewrite schema/signway.schema.json")

const schemaPath = "../../schema/signway.schema.json"

// envRefPattern: any scalar may be ${VAR}, so typed fields accept it too.
const envRefPattern = `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`

type schemaGen struct {
	docs map[string]string // "Type.Field" and "Type" -> doc comment
	defs map[string]any
}

func fieldDocs(t *testing.T) map[string]string {
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	docs := map[string]string{}
	clean := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, sp := range g.Specs {
				ts, ok := sp.(*ast.TypeSpec)
				if !ok {
					continue
				}
				docs[ts.Name.Name] = clean(g.Doc.Text())
				if st, ok := ts.Type.(*ast.StructType); ok {
					for _, fl := range st.Fields.List {
						for _, n := range fl.Names {
							docs[ts.Name.Name+"."+n.Name] = clean(fl.Doc.Text())
						}
					}
				}
			}
		}
	}
	return docs
}

func generateSchema(t *testing.T) map[string]any {
	g := &schemaGen{docs: fieldDocs(t), defs: map[string]any{}}
	root := g.object(reflect.TypeFor[Config]())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://github.com/signway/signway/schema/signway.schema.json"
	root["title"] = "signway configuration"
	g.defs["envRef"] = map[string]any{"type": "string", "pattern": "^" + envRefPattern + "$",
		"description": "${VAR} or ${VAR:-default}: expanded from the environment when the file is loaded."}
	g.defs["duration"] = map[string]any{"type": "string", "pattern": `^(none|-?([0-9]+d)?([0-9.]+(ns|us|µs|ms|s|m|h))*|.*` + envRefPattern + `.*)$`,
		"description": "A duration such as 30s, 15m, 12h or 7d; none for no timeout where allowed."}
	g.defs["byteSize"] = map[string]any{"anyOf": []any{
		map[string]any{"type": "integer", "minimum": 0},
		map[string]any{"type": "string", "pattern": `^([0-9.]+ ?([KMGTkmgt]i?[Bb]?|[Bb])?|.*` + envRefPattern + `.*)$`},
	}, "description": "Bytes, or a size such as 512KiB, 100MB, 5GiB."}
	g.defs["secret"] = map[string]any{"description": "A reference, never the value: \"${ENV_VAR}\" or {file: PATH}.",
		"anyOf": []any{
			map[string]any{"type": "string", "pattern": `^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`},
			map[string]any{"type": "object", "properties": map[string]any{"file": map[string]any{"type": "string", "minLength": 1}},
				"required": []any{"file"}, "additionalProperties": false},
		}}
	root["$defs"] = g.defs
	return root
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/$defs/" + name} }

func orEnv(s map[string]any) map[string]any {
	return map[string]any{"anyOf": []any{s, ref("envRef")}}
}

// object describes a struct, flattening ",inline" fields.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []any
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if opts == "inline" {
				walk(f.Type)
				continue
			}
			s := g.schema(f.Type)
			if d := g.docs[t.Name()+"."+f.Name]; d != "" {
				// Users see the YAML key, not the Go field name.
				if rest, ok := strings.CutPrefix(d, f.Name+" "); ok {
					d = name + " " + rest
				}
				s["description"] = d // beside $ref too: draft 2020-12 allows it
			}
			props[name] = s
			if t == reflect.TypeFor[Route]() && name == "name" || t == reflect.TypeFor[HostRule]() && name == "host" ||
				t == reflect.TypeFor[AssumeRole]() && name == "role_arn" {
				required = append(required, name)
			}
		}
	}
	walk(t)
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if d := g.docs[t.Name()]; d != "" {
		o["description"] = d
	}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case secretType:
		return ref("secret")
	case apiKeyType:
		return map[string]any{"anyOf": []any{ref("secret"), map[string]any{"type": "object",
			"properties": map[string]any{"sha256": map[string]any{"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}},
			"required":   []any{"sha256"}, "additionalProperties": false}},
			"description": "\"${ENV_VAR}\", {file: PATH} or {sha256: HEX}: never the key itself."}
	case durationType:
		return ref("duration")
	case sizeType:
		return ref("byteSize")
	}
	if vals, ok := enumValues[t]; ok {
		return orEnv(map[string]any{"enum": anySliceOf(vals)})
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.Struct:
		if _, ok := g.defs[t.Name()]; !ok {
			g.defs[t.Name()] = nil // reserve: recursive types (AssumeRole.Chain)
			g.defs[t.Name()] = g.object(t)
		}
		return ref(t.Name())
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return orEnv(map[string]any{"type": "boolean"})
	case reflect.Int, reflect.Int64:
		return orEnv(map[string]any{"type": "integer"})
	case reflect.Float64:
		return orEnv(map[string]any{"type": "number"})
	}
	panic("no schema for " + t.String())
}

func anySliceOf(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func TestSchemaUpToDate(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generateSchema(t)); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(schemaPath)
	if err != nil || !bytes.Equal(have, buf.Bytes()) {
		t.Fatalf("%s is stale (%v): go test ./internal/config -run TestSchemaUpToDate -update", schemaPath, err)
	}
}

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("schema is not valid JSON: %v", err)
	}
	return s
}

func keysOf(m any) []string {
	var out []string
	for k := range m.(map[string]any) {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestSchemaKeysMatchStruct(t *testing.T) {
	s := loadSchema(t)
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", s["$schema"])
	}
	defs := s["$defs"].(map[string]any)
	for _, c := range []struct {
		what   string
		schema any
		typ    reflect.Type
	}{
		{"top level", s["properties"], reflect.TypeFor[Config]()},
		{"route", defs["Route"].(map[string]any)["properties"], reflect.TypeFor[Route]()},
		{"defaults", defs["Settings"].(map[string]any)["properties"], reflect.TypeFor[Settings]()},
		{"hosts", defs["HostRule"].(map[string]any)["properties"], reflect.TypeFor[HostRule]()},
		{"credentials", defs["Credentials"].(map[string]any)["properties"], reflect.TypeFor[Credentials]()},
	} {
		if got, want := keysOf(c.schema), yamlKeys(c.typ); !slices.Equal(got, want) {
			t.Errorf("%s keys: schema %v, Go %v", c.what, got, want)
		}
	}
}

// TestExamplesMatchSchema checks the schema with a full JSON Schema
// validator: the schema itself against its meta-schema (what editors load),
// the examples against the schema, so the schema accepts what the loader
// accepts, and some bad files, so it rejects what the loader rejects.
func TestExamplesMatchSchema(t *testing.T) {
	sch := compileSchema(t)
	for _, f := range exampleFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(yamlInstance(t, data)); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	for _, bad := range []string{"routes: [{name: r, urll: x}]", "routes: [{name: r, payload: fast}]", "routes: [{url: x}]",
		"routes: [{name: r, credentials: {secret_access_key: plain}}]", "listen: {tls: {cert: x}}"} {
		if sch.Validate(yamlInstance(t, []byte(bad))) == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("schema is not valid JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("signway.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("signway.schema.json")
	if err != nil {
		t.Fatalf("the schema is not a valid JSON Schema: %v", err)
	}
	return sch
}

// yamlInstance turns a YAML document into the JSON value the validator
// takes.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// yamlKeys lists the keys a struct type accepts, sorted; the schema test
// compares them with the JSON Schema.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for k := range yamlFields(t) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
