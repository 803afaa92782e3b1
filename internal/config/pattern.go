package config

import (
	"regexp"
	"unicode/utf8"
)

// bounded is a pattern whose length limits are checked in code rather than
// with a counted repetition such as {1,512}: Go compiles a counted
// repetition by copying its operand that many times, and the few this
// package had cost about 5 MB of memory and 20 ms at every start of the
// process, in and out of config files.
type bounded struct {
	re       *regexp.Regexp
	min, max int
	// lastGroup limits the pattern's last capture group (an ARN's role
	// part) instead of the whole string.
	lastGroup bool
	// runes counts characters rather than bytes (AWS tag keys).
	runes bool
}

func (b bounded) MatchString(s string) bool {
	part := s
	if b.lastGroup {
		m := b.re.FindStringSubmatch(s)
		if m == nil {
			return false
		}
		part = m[len(m)-1]
	} else if !b.re.MatchString(s) {
		return false
	}
	n := len(part)
	if b.runes {
		n = utf8.RuneCountInString(part)
	}
	return n >= b.min && n <= b.max
}

// matcher is a *regexp.Regexp or a bounded pattern.
type matcher interface{ MatchString(string) bool }
