package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleEnv supplies the variables the examples reference without a default.
var exampleEnv = map[string]string{
	"ORDERS_FUNCTION_HOST":       "abcdefghij0123456789klmnop.lambda-url.us-east-2.on.aws",
	"PAYMENTS_EXTERNAL_ID":       "payments-7f3a",
	"DYNAMODB_ACCESS_KEY_ID":     "AKIDEXAMPLE",
	"DYNAMODB_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	"AGENT7_SECRET":              "agent-7-example-secret",
	"CI_SECRET":                  "ci-example-secret",
	"REPORTING_API_KEY":          "reporting-example-key",
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	return files
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func TestExamplesLoadAndValidate(t *testing.T) {
	for _, f := range exampleFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// Every variable an example needs without a default is in exampleEnv.
			for _, m := range envRef.FindAllStringSubmatch(string(data), -1) {
				if _, ok := exampleEnv[m[1]]; !ok {
					t.Errorf("example uses ${%s}: add it to exampleEnv", m[1])
				}
			}
			cfg, err := Load(f, mapEnv(exampleEnv))
			if err != nil {
				t.Fatalf("%v", err)
			}
			if len(cfg.Routes)+len(cfg.Hosts) == 0 {
				t.Fatal("no routes")
			}
			for _, r := range cfg.Routes {
				if r.Service == "" || r.Region == "" {
					t.Errorf("route %s: service %q region %q after defaults", r.Name, r.Service, r.Region)
				}
				if _, err := r.Upstream(); err != nil {
					t.Error(err)
				}
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("completed config no longer validates: %v", err)
			}
		})
	}
}

// TestDocsExampleIsValid keeps docs/config.md's complete example loadable.
func TestDocsExampleIsValid(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "## A complete example")
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, _ := strings.Cut(rest, "```")
	if _, err := Parse([]byte(block), mapEnv(nil)); err != nil {
		t.Fatalf("%v\n%s", err, block)
	}
}
