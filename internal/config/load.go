package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config.
type Problem struct {
	// Field is the path of the field, e.g. routes[2].credentials.assume_role.role_arn;
	// empty for a file that is not YAML at all.
	Field string
	// Line is the YAML line of the field, or of the nearest enclosing field
	// that is in the file; 0 when unknown (a Config built in code).
	Line    int
	Message string
}

func (p Problem) String() string {
	switch {
	case p.Field == "" && p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	case p.Field == "":
		return p.Message
	case p.Line > 0:
		return fmt.Sprintf("%s (line %d): %s", p.Field, p.Line, p.Message)
	}
	return p.Field + ": " + p.Message
}

// ProblemsError is every problem found in a config.
type ProblemsError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ProblemsError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads, expands, validates and completes the config file at path; see
// Parse.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, lookupEnv)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse decodes a YAML config, expanding ${VAR} with lookupEnv (os.LookupEnv
// when nil), then validates it. Every problem, from unknown keys to a route
// without a region, is returned at once as a *ProblemsError. The Config
// returned has the defaults applied (WithDefaults).
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		p := Problem{Message: strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Message = m[2]
		}
		return nil, &ProblemsError{Problems: []Problem{p}}
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		return nil, &ProblemsError{Problems: []Problem{{Line: extra.Line, Message: "a config file holds one YAML document; remove the second ---"}}}
	}
	d := &decoder{lookupEnv: lookupEnv, lines: map[string]int{}}
	cfg := &Config{}
	if n := resolve(&root); n != nil && n.Kind != 0 && !isNull(n) {
		d.decode(n, reflect.ValueOf(cfg).Elem(), "")
	}
	cfg.lines = d.lines
	problems := d.problems
	if err := cfg.Validate(); err != nil {
		// A field that failed to decode is zero, so validation would
		// complain again ("required"): keep the decoding problem only.
		bad := map[string]bool{}
		for _, p := range d.problems {
			bad[p.Field] = true
		}
		for _, p := range err.(*ProblemsError).Problems {
			if !coveredBy(p.Field, bad) {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, &ProblemsError{Problems: problems}
	}
	return cfg.WithDefaults(), nil
}

func coveredBy(field string, bad map[string]bool) bool {
	for f := field; f != ""; f = parentPath(f) {
		if bad[f] {
			return true
		}
	}
	return false
}

// sortProblems orders by line, so the list reads like the file; problems
// without a line keep their order at the end.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

// parentPath drops the last element: a.b[2].c -> a.b[2] -> a.b -> a -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Line returns the YAML line of a field path, or of its nearest ancestor
// that was written in the file; 0 for a Config built in code.
func (c *Config) Line(field string) int {
	for f := field; f != ""; f = parentPath(f) {
		if l, ok := c.lines[f]; ok {
			return l
		}
	}
	return 0
}
