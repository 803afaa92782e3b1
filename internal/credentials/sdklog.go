package credentials

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
)

// sdkLogger routes the SDK's own log lines (such as IMDS's "falling back to
// IMDSv1") to signway's slog logger. The SDK's default logger prints plain
// text to stderr, which breaks --log-format json and bypasses redaction.
type sdkLogger struct {
	log *slog.Logger
	ctx context.Context
}

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelInfo
	switch c {
	case logging.Warn:
		level = slog.LevelWarn
	case logging.Debug:
		level = slog.LevelDebug
	}
	ctx := l.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	// The SDK formats errors into its lines; scrubbed like any AWS message.
	l.log.Log(ctx, level, "AWS SDK: "+scrubMessage(fmt.Sprintf(format, v...)))
}

func (l sdkLogger) WithContext(ctx context.Context) logging.Logger {
	l.ctx = ctx
	return l
}

// withLogger makes the SDK log through log (nil discards), and only what it
// logs by default: request and response logging (ClientLogMode) would write
// callers' web identity tokens and credentials.
func withLogger(log *slog.Logger) func(*config.LoadOptions) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(o *config.LoadOptions) error {
		o.Logger = sdkLogger{log: log.With(slog.String("component", "aws-sdk"))}
		o.ClientLogMode = new(aws.ClientLogMode)
		return nil
	}
}
