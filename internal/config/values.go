package config

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as "30s", "15m", "1h30m" or with days,
// "7d". Zero means "the default"; NoTimeout ("none") disables a timeout.
type Duration time.Duration

// NoTimeout is written "none": no timeout at all, where one is allowed.
const NoTimeout Duration = -1

// ParseDuration parses the config's duration syntax.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "none" {
		return NoTimeout, nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration like 30s, 15m, 12h or 7d", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return Duration(days), nil
		}
	}
	if _, err := strconv.Atoi(s); err == nil {
		return 0, fmt.Errorf("%q has no unit: write e.g. %ss", s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 30s, 15m, 12h or 7d", s)
	}
	return Duration(days + d), nil
}

// D is the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string {
	if d == NoTimeout {
		return "none"
	}
	day := 24 * time.Hour
	if days, rest := time.Duration(d)/day, time.Duration(d)%day; days > 0 {
		if rest == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%s", days, rest)
	}
	return time.Duration(d).String()
}

// MarshalYAML writes the same syntax ParseDuration reads.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ByteSize is a number of bytes, written as a number or with a unit: 512KiB,
// 100MB, 5GiB, 5Gi (binary units), 5G (decimal units).
type ByteSize int64

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20,
	"gi": 1 << 30, "gib": 1 << 30, "ti": 1 << 40, "tib": 1 << 40,
}

// ParseByteSize parses the config's size syntax.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	n, err := strconv.ParseFloat(t[:i], 64)
	if !ok || err != nil || i == 0 {
		return 0, fmt.Errorf("%q is not a size like 1048576, 512MiB or 5GiB", s)
	}
	v := n * float64(unit)
	if v > math.MaxInt64 || v != math.Trunc(v) {
		return 0, fmt.Errorf("%q is not a whole number of bytes that fits in 63 bits", s)
	}
	return ByteSize(v), nil
}

func (b ByteSize) String() string {
	for _, u := range []struct {
		s string
		n int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalYAML writes the same syntax ParseByteSize reads.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// redacted stands in for a secret everywhere it could be shown.
const redacted = "[REDACTED]"

// Secret is a credential: in a file, a reference to an environment variable
// ("${NAME}", resolved when the file is loaded) or to a file ({file: PATH},
// read by Value each time, so a rotated mounted secret is picked up). It
// never prints, logs or marshals its value; only Value returns it.
type Secret struct {
	// Env is the environment variable the value came from.
	Env string
	// File is read by Value.
	File  string
	value string
}

// NewSecret holds a literal value, for configs built in code.
func NewSecret(value string) Secret { return Secret{value: value} }

// EnvSecret holds the value of the environment variable name.
func EnvSecret(name, value string) Secret { return Secret{Env: name, value: value} }

// FileSecret refers to a file read by Value.
func FileSecret(path string) Secret { return Secret{File: path} }

// IsZero reports whether no secret is given.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" && s.value == "" }

// Value returns the secret: the file's content without a trailing newline,
// or the value given.
func (s Secret) Value() (string, error) {
	if s.File == "" {
		return s.value, nil
	}
	b, err := os.ReadFile(s.File)
	if err != nil {
		// The path is not secret, the content is: the error names the path only.
		return "", fmt.Errorf("reading secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// String names where the secret comes from, never what it is.
func (s Secret) String() string {
	switch {
	case s.File != "":
		return redacted + " (file " + s.File + ")"
	case s.Env != "":
		return redacted + " (${" + s.Env + "})"
	case s.value != "":
		return redacted
	}
	return ""
}

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x) print String, so a
// Config printed whole shows no secret.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(s.String()))
		return
	}
	fmt.Fprint(f, s.String())
}

// GoString is String, for %#v through interfaces that bypass Format.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps the secret out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML writes the reference, never the value.
func (s Secret) MarshalYAML() (any, error) {
	switch {
	case s.File != "":
		return map[string]string{"file": s.File}, nil
	case s.Env != "":
		return "${" + s.Env + "}", nil
	case s.value != "":
		return redacted, nil
	}
	return nil, nil
}

// MarshalJSON writes the reference, never the value.
func (s Secret) MarshalJSON() ([]byte, error) {
	if s.File != "" {
		return []byte(`{"file":` + strconv.Quote(s.File) + `}`), nil
	}
	return []byte(strconv.Quote(s.String())), nil
}

// MarshalText is used by encoders that look for it (slog's JSON handler for
// map keys, encoding/xml, ...).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
