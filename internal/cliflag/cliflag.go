// Package cliflag owns how signway's commands read their command lines:
// parsing a flag set with help on stdout and one error for a mistake,
// listing flags in the --long form with their short aliases, and
// [UsageError], the command-line mistake that exits with status 2.
package cliflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// UsageError is a command-line mistake: exit status 2, like the flag package.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Errorf is fmt.Errorf as a [UsageError].
func Errorf(format string, a ...any) error { return &UsageError{fmt.Errorf(format, a...)} }

// Parse parses args into fs. Help (-h) goes to stdout, usage and then every
// flag; a mistake is returned once as a [UsageError], not printed around
// the usage.
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer, usage string) (help bool, err error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			Print(fs, stdout)
			return true, nil
		}
		err = errors.New(strings.Replace(err.Error(), ": -", ": --", 1))
		return false, Errorf("%w (%s --help lists the flags)", err, fs.Name())
	}
	return false, nil
}

// LongName is f's long name: a short alias is defined with the usage
// "short for --LONG".
func LongName(fs *flag.FlagSet, f *flag.Flag) string {
	if long, ok := strings.CutPrefix(f.Usage, "short for --"); ok && fs.Lookup(long) != nil {
		return long
	}
	return f.Name
}

// Print lists each flag once, in the --long form with its short alias,
// its argument and its default: flag.PrintDefaults would list every alias as
// a flag of its own, with one dash.
func Print(fs *flag.FlagSet, w io.Writer) {
	short := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, "short for --"); ok {
			short[long] = f.Name
		}
	})
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "short for --") {
			return
		}
		name := "--" + f.Name
		if s, ok := short[f.Name]; ok {
			name = "-" + s + ", " + name
		}
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			name += " " + strings.ToUpper(arg)
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  %-28s %s\n", name, usage)
	})
}
