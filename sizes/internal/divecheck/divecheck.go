// Package divecheck builds and runs dive, the reference our size analysis is
// checked against, and reads its JSON export. dive is built from the Go
// module proxy at the version pinned in sizes/internal/divetool/go.mod, a
// module of its own so the product's build never carries dive's
// dependencies.
package divecheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// EnvBinary names a dive binary to use instead of building one.
const EnvBinary = "LAYERLAB_DIVE"

// BuildHint tells a person how to get dive by hand.
const BuildHint = `make dive, or from the repository root: ` +
	`go -C sizes/internal/divetool build -o "$PWD/bin/dive" github.com/wagoodman/dive/cmd/dive`

// Binary returns the path of a dive binary: $LAYERLAB_DIVE if set, else
// bin/dive in the module root, built (or found up to date) with the go
// command. Building needs the Go module proxy the first time and the build
// cache after that.
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", EnvBinary, err)
		}
		return p, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	out := filepath.Join(root, "bin", "dive")
	tool := filepath.Join(root, "sizes", "internal", "divetool")
	cmd := exec.CommandContext(ctx, "go", "-C", tool,
		"build", "-o", out, "github.com/wagoodman/dive/cmd/dive")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build dive: %w: %s", err, bytes.TrimSpace(msg))
	}
	return out, nil
}

// moduleRoot finds the layerlab module's root from the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find module root: not inside the layerlab module")
	}
	return filepath.Dir(gomod), nil
}

// Export is the part of dive's --json output that we compare.
type Export struct {
	Layers []Layer `json:"layer"`
	Image  Image   `json:"image"`
}

// Layer is one layer in dive's export.
type Layer struct {
	Index     int    `json:"index"`
	ID        string `json:"id"`
	SizeBytes int64  `json:"sizeBytes"`
	Command   string `json:"command"`
}

// Image is dive's whole-image summary.
type Image struct {
	SizeBytes        int64     `json:"sizeBytes"`
	InefficientBytes int64     `json:"inefficientBytes"`
	EfficiencyScore  float64   `json:"efficiencyScore"`
	Files            []FileRef `json:"fileReference"`
}

// FileRef is a path dive counts as inefficient.
type FileRef struct {
	Count     int    `json:"count"`
	SizeBytes int64  `json:"sizeBytes"`
	Path      string `json:"file"`
}

// Run is what one dive run measured and reported.
type Run struct {
	Export  Export
	Elapsed time.Duration
	// MaxRSS is the peak resident memory of the dive process in bytes.
	MaxRSS int64
}

// Analyze runs dive on a docker archive and reads its JSON export. dive runs
// in a scratch directory with a scratch HOME and without CI in its
// environment, so no configuration file or CI rule of the machine changes
// what it does.
func Analyze(ctx context.Context, bin, archive string) (*Run, error) {
	scratch, err := os.MkdirTemp("", "dive-")
	if err != nil {
		return nil, fmt.Errorf("run dive: %w", err)
	}
	defer os.RemoveAll(scratch)
	archive, err = filepath.Abs(archive)
	if err != nil {
		return nil, fmt.Errorf("run dive: %w", err)
	}

	out := filepath.Join(scratch, "dive.json")
	cmd := exec.CommandContext(ctx, bin, "--json", out, "--source", "docker-archive", archive)
	cmd.Dir = scratch
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + scratch}
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("run dive on %s: %w: %s", archive, err,
			bytes.TrimSpace(output.Bytes()))
	}
	run := &Run{Elapsed: time.Since(start), MaxRSS: MaxRSS(cmd.ProcessState)}

	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read dive export: %w", err)
	}
	if err := json.Unmarshal(b, &run.Export); err != nil {
		return nil, fmt.Errorf("decode dive export: %w", err)
	}
	return run, nil
}

// MaxRSS returns the peak resident memory of a finished process in bytes, or
// 0 where the system does not say.
func MaxRSS(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024 // Linux reports kilobytes
	}
	return 0
}
