// Command layerlab serves the Dockerfile playground and manages its image
// mirror.
//
//	layerlab serve [--addr HOST:PORT] [--data DIR] [--buildkit-addr ADDR]
//	layerlab images seed|ls|import|rm [--data DIR] ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/layerlab/layerlab/app"
	"github.com/layerlab/layerlab/domain"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, os.Args[1:], log); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "layerlab:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		return errors.New("usage: layerlab serve|images ... (layerlab serve -h for flags)")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], log)
	case "images":
		return runImages(ctx, args[1:], log)
	default:
		return fmt.Errorf("unknown command %q: want serve or images", args[0])
	}
}

func runServe(ctx context.Context, args []string, log *slog.Logger) error {
	cfg, err := parseServe(args)
	if err != nil {
		return err
	}
	a, err := app.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-a.Done():
		log.Error("http server stopped", "error", err)
	}
	a.Close(context.Background())
	return err
}

func parseServe(args []string) (app.Config, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg app.Config
	fs.StringVar(&cfg.Addr, "addr", env("LAYERLAB_ADDR", "127.0.0.1:8080"), "HTTP listen address")
	fs.StringVar(&cfg.Data, "data", env("LAYERLAB_DATA", "data"), "data directory (worker state, mirror)")
	fs.StringVar(&cfg.BuildkitAddr, "buildkit-addr", env("BUILDKIT_HOST", ""),
		"use this existing buildkitd instead of starting one")
	fs.StringVar(&cfg.Buildkitd, "buildkitd", env("LAYERLAB_BUILDKITD", defaultBuildkitd()),
		"buildkitd binary for the managed worker")
	fs.StringVar(&cfg.CNIBinaryDir, "cni-bin-dir", env("LAYERLAB_CNI_BIN_DIR", "/usr/lib/cni"),
		"CNI plugins for the worker's bridge network")
	fs.IntVar(&cfg.Concurrency, "concurrency", envInt("LAYERLAB_CONCURRENCY", 2), "builds run at once")
	fs.DurationVar(&cfg.BuildTimeout, "build-timeout", envDuration("LAYERLAB_BUILD_TIMEOUT", 15*time.Minute),
		"longest a build may run")
	d := domain.DefaultLimits
	fs.Int64Var(&cfg.Limits.MaxFileBytes, "max-file-bytes", envInt64("LAYERLAB_MAX_FILE_BYTES", d.MaxFileBytes),
		"largest context file")
	fs.Int64Var(&cfg.Limits.MaxContextBytes, "max-context-bytes",
		envInt64("LAYERLAB_MAX_CONTEXT_BYTES", d.MaxContextBytes), "largest build context")
	fs.IntVar(&cfg.Limits.MaxFiles, "max-files", envInt("LAYERLAB_MAX_FILES", d.MaxFiles), "most context files")
	fs.Int64Var(&cfg.Limits.MaxDockerfileBytes, "max-dockerfile-bytes",
		envInt64("LAYERLAB_MAX_DOCKERFILE_BYTES", d.MaxDockerfileBytes), "largest Dockerfile")
	if err := fs.Parse(args); err != nil {
		return app.Config{}, err
	}
	if fs.NArg() > 0 {
		return app.Config{}, fmt.Errorf("serve takes no arguments, got %q", strings.Join(fs.Args(), " "))
	}
	return cfg, nil
}

// defaultBuildkitd looks for the buildkitd that make build leaves beside
// layerlab, then on PATH.
func defaultBuildkitd() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "buildkitd")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "buildkitd"
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(env("LAYERLAB_LOG_LEVEL", "info"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(env(key, "")); err == nil {
		return n
	}
	return def
}

func envInt64(key string, def int64) int64 {
	if n, err := strconv.ParseInt(env(key, ""), 10, 64); err == nil {
		return n
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(env(key, "")); err == nil {
		return d
	}
	return def
}
