// Package sandbox is everything that talks to BuildKit: the managed buildkitd,
// writing a build's context, solving it with the Dockerfile frontend and
// translating BuildKit's status into layerlab's events. No BuildKit type
// leaves this package.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
	"github.com/moby/buildkit/util/grpcerrors"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/sizes"
)

// Worker is a BuildKit daemon that layerlab builds on: one it manages itself
// or one at an address it was given.
type Worker struct {
	client  *client.Client
	addr    string
	daemon  *Daemon
	workDir string
	log     *slog.Logger
	salter  BaseSalter
	layers  *sizes.Cache // what scanning base layers learned, for the next build
}

// BaseSalter makes salted copies of base images: same layers, a digest of
// their own. The image mirror is one.
type BaseSalter interface {
	// SaltBase returns the docker.io reference of a salted copy of ref, or
	// an error when it has no such image.
	SaltBase(ref, salt string) (string, error)
	// ReleaseSalt forgets every copy made with salt.
	ReleaseSalt(salt string)
}

// SetSalter lets the worker give builds with a cache salt base images of
// their own.
func (w *Worker) SetSalter(s BaseSalter) { w.salter = s }

// ReleaseSalt drops the base images made for salt.
func (w *Worker) ReleaseSalt(salt string) {
	if w.salter != nil {
		w.salter.ReleaseSalt(salt)
	}
}

// NewWorker connects to the buildkitd at addr. daemon is the process behind
// addr when layerlab manages it, nil otherwise. Build contexts are written
// under workDir, which must be on a local file system.
func NewWorker(ctx context.Context, addr string, daemon *Daemon, workDir string, log *slog.Logger) (*Worker, error) {
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return nil, fmt.Errorf("create context dir: %w", err)
	}
	// A restarted daemon should be reachable again within a moment, not after
	// gRPC's default reconnect backoff of up to two minutes.
	c, err := client.New(ctx, addr, client.WithGRPCDialOption(grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, MaxDelay: 2 * time.Second},
		MinConnectTimeout: 5 * time.Second,
	})))
	if err != nil {
		return nil, fmt.Errorf("connect to buildkitd at %s: %w", addr, err)
	}
	return &Worker{client: c, addr: addr, daemon: daemon, workDir: workDir, log: log,
		layers: sizes.NewCache(layerCacheEntries)}, nil
}

// Close drops the connection to the worker.
func (w *Worker) Close() error { return w.client.Close() }

// Address is where the worker listens.
func (w *Worker) Address() string { return w.addr }

// Health asks the worker for its version, which also proves it answers.
func (w *Worker) Health(ctx context.Context) domain.WorkerHealth {
	h := domain.WorkerHealth{Address: w.addr, Managed: w.daemon != nil}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	info, err := w.client.Info(ctx)
	if err != nil {
		h.Reason = "the worker does not answer: " + cleanError(err.Error())
		if w.daemon != nil {
			h.Reason = w.daemon.State() + "; " + h.Reason
		}
		return h
	}
	h.Ready = true
	h.Version = info.BuildkitVersion.Version
	return h
}

// Build writes the spec's context to disk, solves it with the Dockerfile
// frontend and reports every step through emit. A failure in the person's
// Dockerfile comes back as a *domain.BuildError. Measure weighs the images
// afterwards.
func (w *Worker) Build(ctx context.Context, id string, spec domain.Spec, emit func(domain.Event)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// life ends when the managed daemon running this build exits.
	life := context.Background()
	if w.daemon != nil {
		if err := w.daemon.WaitReady(ctx, time.Minute); err != nil {
			return &domain.BuildError{Kind: "worker", Message: err.Error()}
		}
		life = w.daemon.Lifetime()
		stop := context.AfterFunc(life, func() { cancel(errWorkerStopped) })
		defer stop()
	}

	dir := filepath.Join(w.workDir, id)
	if err := writeContext(dir, spec.Files); err != nil {
		return fmt.Errorf("write context: %w", err)
	}
	defer os.RemoveAll(dir)

	p, planErr := readPlan(spec.Files[spec.Dockerfile], spec.Target, spec.BuildArgs)
	if planErr == nil {
		emit(domain.Event{Type: domain.EventStages, Stages: p.stages})
	}
	tr := newTranslator(p, emit)
	if be := checkRegistries(ctx, p); be != nil {
		return be
	}
	policy := w.saltPolicy(p, spec, emit)

	err := w.solve(ctx, dir, spec, tr, policy)
	if err == nil {
		return nil
	}
	if w.daemon != nil && grpcerrors.Code(err) == codes.Unavailable {
		// The broken connection may be seen before the daemon's exit is.
		select {
		case <-life.Done():
			cancel(errWorkerStopped)
		case <-time.After(2 * time.Second):
		}
	}
	if errors.Is(context.Cause(ctx), errWorkerStopped) {
		return &domain.BuildError{Kind: "worker", Message: errWorkerStopped.Error()}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		msg := context.Cause(ctx).Error()
		if running := tr.running(); len(running) > 0 {
			msg += "; still running: " + strings.Join(running, ", ")
		}
		return &domain.BuildError{Kind: "limit", Message: msg}
	}
	if ctx.Err() != nil {
		return &domain.BuildError{Kind: "worker", Message: context.Cause(ctx).Error()}
	}
	return describeFailure(err, tr)
}

func (w *Worker) solve(ctx context.Context, dir string, spec domain.Spec, tr *translator, policy *spb.Policy) error {
	dfDir := filepath.Join(dir, filepath.FromSlash(path.Dir(spec.Dockerfile)))
	opt, err := solveOpt(dir, dfDir, path.Base(spec.Dockerfile), spec.Target, spec, policy,
		"layerlab-"+filepath.Base(dir))
	if err != nil {
		return err
	}

	ch := make(chan *client.SolveStatus)
	eg, egctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		_, err := w.client.Solve(egctx, nil, opt, ch)
		return err
	})
	eg.Go(func() error {
		for s := range ch {
			tr.apply(s)
		}
		return nil
	})
	return eg.Wait()
}

// solveOpt is what every solve of a build asks the Dockerfile frontend: the
// context and Dockerfile folders, the file name, target, build args and the
// policy that salts base images.
func solveOpt(dir, dfDir, filename, target string, spec domain.Spec, policy *spb.Policy,
	sharedKey string) (client.SolveOpt, error) {
	contextFS, err := fsutil.NewFS(dir)
	if err != nil {
		return client.SolveOpt{}, fmt.Errorf("open context: %w", err)
	}
	dockerfileFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		return client.SolveOpt{}, fmt.Errorf("open dockerfile dir: %w", err)
	}
	attrs := map[string]string{
		"filename": filename,
		// An empty cmdline keeps the frontend built into the worker even when
		// the Dockerfile names another with "# syntax=": fetching that image
		// needs a registry, and a workshop room may have none.
		"cmdline": "",
	}
	if target != "" {
		attrs["target"] = target
	}
	for k, v := range spec.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	if spec.Options.NoCache {
		attrs["no-cache"] = ""
	}
	return client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		SourcePolicy:  withGuard(policy),
		LocalMounts:   map[string]fsutil.FS{"context": contextFS, "dockerfile": dockerfileFS},
		// A key of its own makes the worker copy every file of this context
		// afresh. With a shared key it keeps files whose size and mtime match
		// an earlier transfer, even when their content changed.
		SharedKey: sharedKey,
	}, nil
}

// writeContext lays out the files under dir. Every file gets the current
// time, never a time the uploader chose.
func writeContext(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Measure weighs the images of a build that succeeded: it exports every stage
// the target needed (all cached by now) and emits their sizes. The runner
// calls it after the build's result, so a build's time is the worker's alone.
func (w *Worker) Measure(ctx context.Context, id string, spec domain.Spec, emit func(domain.Event)) error {
	p, err := readPlan(spec.Files[spec.Dockerfile], spec.Target, spec.BuildArgs)
	if err != nil {
		return fmt.Errorf("read dockerfile: %w", err)
	}
	dir := filepath.Join(w.workDir, id+"-measure")
	if err := writeContext(dir, spec.Files); err != nil {
		return fmt.Errorf("write context: %w", err)
	}
	defer os.RemoveAll(dir)
	policy := w.saltPolicy(p, spec, func(domain.Event) {})
	if err := w.measure(ctx, dir, spec, p, policy, emit); err != nil {
		return fmt.Errorf("measure images: %w", cleanErr(err))
	}
	return nil
}
