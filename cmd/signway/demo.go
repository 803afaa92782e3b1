package main

import (
	"context"
	"flag"
	"io"
	"log/slog"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/demo"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("signway demo", flag.ContinueOnError)
	listen := fs.String("listen-on", "127.0.0.1:8080", "`address` for the demo's signway listener (a free port is used if it is taken)")
	once := fs.Bool("once", false, "exit after the scripted requests instead of serving until Ctrl-C")
	usage := "Usage:\n  signway demo [--once] [--listen-on ADDR]\n\nRuns signway in front of an embedded S3-like upstream that verifies signatures,\nsends a few requests through it and shows what happened.\n\nFlags:\n"
	if help, err := cliflag.Parse(fs, args, stdout, usage); help || err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return demo.Run(ctx, demo.Options{Listen: *listen, Once: *once, Stdout: stdout, Logger: log})
}
