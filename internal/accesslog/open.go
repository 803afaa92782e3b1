package accesslog

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// Open makes the access logger for dest: "off" (or "") for none, "stdout"
// or "stderr", or a file path, appended to (so logrotate's copytruncate
// works). format is "json" or "text". close releases the file.
func Open(dest, format string, stdout, stderr io.Writer) (log *slog.Logger, close func() error, err error) {
	close = func() error { return nil }
	if format != "json" && format != "text" {
		return nil, close, fmt.Errorf("access log format %q: use json or text", format)
	}
	var w io.Writer
	switch dest {
	case "", "off":
		return nil, close, nil
	case "stdout":
		w = stdout
	case "stderr":
		w = stderr
	default:
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, close, fmt.Errorf("access log: %w (give off, stdout, stderr or a writable file)", err)
		}
		w, close = f, f.Close
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil)), close, nil
	}
	return slog.New(slog.NewTextHandler(w, nil)), close, nil
}
