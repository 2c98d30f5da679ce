// Package labtest starts a whole layerlab for tests: a real managed
// buildkitd, an image mirror seeded with real images, and the HTTP server on
// a loopback port. A missing buildkitd, runc or seeding tool is a failure,
// never a skip.
package labtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/layerlab/layerlab/app"
	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/mirror"
)

// Options tune the server a test binary shares.
type Options struct {
	// Images are the mirror images to seed, e.g. "busybox".
	Images []string
	Limits domain.Limits
}

var shared *app.App

// Main starts one layerlab for the whole test binary, runs the tests and
// stops it. Call it from TestMain.
func Main(m *testing.M, opts Options) {
	code, err := run(m, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M, opts Options) (int, error) {
	ctx := context.Background()
	data, err := os.MkdirTemp("", "layerlab-test-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(data)

	a, err := Start(ctx, data, opts)
	if err != nil {
		return 1, err
	}
	shared = a
	code := m.Run()
	a.Close(ctx)
	return code, nil
}

// App returns the server that Main started.
func App(tb testing.TB) *app.App {
	tb.Helper()
	if shared == nil {
		tb.Fatal("labtest: no server; call labtest.Main from TestMain")
	}
	return shared
}

// Start seeds a mirror under data and starts layerlab on a loopback port.
func Start(ctx context.Context, data string, opts Options) (*app.App, error) {
	buildkitd, err := Buildkitd()
	if err != nil {
		return nil, err
	}
	log := Logger()
	if err := Seed(ctx, filepath.Join(data, "mirror"), opts.Images, log); err != nil {
		return nil, err
	}
	a, err := app.Start(ctx, app.Config{
		Addr:         "127.0.0.1:0",
		Data:         data,
		Buildkitd:    buildkitd,
		Limits:       opts.Limits,
		Concurrency:  2,
		BuildTimeout: 5 * time.Minute,
	}, log)
	if err != nil {
		return nil, fmt.Errorf("start layerlab: %w", err)
	}
	if err := a.WaitReady(ctx, time.Minute); err != nil {
		a.Close(ctx)
		return nil, err
	}
	return a, nil
}

// Seed puts the named images into the mirror at dir, from the machine's seed
// cache when it has them.
func Seed(ctx context.Context, dir string, images []string, log *slog.Logger) error {
	if len(images) == 0 {
		return nil
	}
	m, err := mirror.Open(dir, log)
	if err != nil {
		return fmt.Errorf("open mirror: %w", err)
	}
	if _, err := m.Seed(ctx, images, mirror.SeedOptions{}); err != nil {
		return fmt.Errorf("seed mirror with %s: %w", strings.Join(images, ", "), err)
	}
	return nil
}

// Buildkitd finds the buildkitd binary: $LAYERLAB_BUILDKITD, else bin/ at
// the module root, which make build fills.
func Buildkitd() (string, error) {
	if _, err := exec.LookPath("runc"); err != nil {
		return "", fmt.Errorf("runc is missing: run scripts/install-deps.sh (make test does it)")
	}
	return binary("LAYERLAB_BUILDKITD", "buildkitd")
}

// Buildctl finds the buildctl binary the same way, from $LAYERLAB_BUILDCTL.
func Buildctl() (string, error) { return binary("LAYERLAB_BUILDCTL", "buildctl") }

func binary(envVar, name string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no %s at %s: run make build (make test does it)", name, p)
	}
	return p, nil
}

// Logger logs warnings and errors of the server under test; LAYERLAB_LOG_LEVEL
// lowers the level.
func Logger() *slog.Logger {
	var level slog.Level = slog.LevelWarn
	if v := os.Getenv("LAYERLAB_LOG_LEVEL"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
