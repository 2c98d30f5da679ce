package domain

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Worker builds one spec and reports what happens through emit. It emits
// stages, step, log, warning and progress events; the Runner adds the status
// and result events around them. A failure is returned as a *BuildError when
// the worker can say what went wrong in the person's terms.
type Worker interface {
	Build(ctx context.Context, id string, spec Spec, emit func(Event)) error
}

// Measurer is a worker that can also weigh a successful build's images.
// The runner calls it after the build's result, so the sizes follow the
// result in the stream and a build's time stays the worker's alone.
type Measurer interface {
	Measure(ctx context.Context, id string, spec Spec, emit func(Event)) error
}

// RunnerConfig tunes a Runner. Zero fields take sane defaults.
type RunnerConfig struct {
	Limits Limits
	// Concurrency is how many builds run on the worker at once; the rest
	// wait in order.
	Concurrency int
	// Timeout bounds one build, queueing excluded.
	Timeout time.Duration
	// Keep is how many finished builds stay in memory.
	Keep int
	// MaxQueued is how many builds may wait for a slot; more are refused.
	MaxQueued int
}

// Runner queues builds, runs them on a Worker and keeps each one's event log.
type Runner struct {
	worker Worker
	cfg    RunnerConfig
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	builds  map[string]*Build
	order   []string
	running int
	waiting []*Build
}

// Build is one submitted build: its spec and its stream.
type Build struct {
	ID        string
	Spec      Spec
	CreatedAt time.Time
	Events    *EventLog

	start  chan struct{} // closed when the build gets a worker slot
	ctx    context.Context
	cancel context.CancelCauseFunc
}

var (
	// ErrShuttingDown is returned by Submit once Close has begun.
	ErrShuttingDown = errors.New("the server is shutting down")
	// ErrQueueFull is returned by Submit when too many builds wait.
	ErrQueueFull = errors.New("too many builds are waiting for the worker; try again in a minute")
	// ErrCancelled is the cause of a build cancelled on request.
	ErrCancelled = errors.New("the build was cancelled")
)

// NewRunner returns a runner that builds on worker.
func NewRunner(worker Worker, cfg RunnerConfig, log *slog.Logger) *Runner {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Minute
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 500
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 50
	}
	cfg.Limits = cfg.Limits.OrDefaults()
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Runner{
		worker: worker,
		cfg:    cfg,
		log:    log,
		ctx:    ctx,
		cancel: cancel,
		builds: make(map[string]*Build),
	}
}

// Limits returns the limits the runner enforces.
func (r *Runner) Limits() Limits { return r.cfg.Limits }

// Submit validates the spec and queues it. The error is an *InputError when
// the spec breaks a limit.
func (r *Runner) Submit(spec Spec) (*Build, error) {
	if r.ctx.Err() != nil {
		return nil, ErrShuttingDown
	}
	spec, err := r.cfg.Limits.Validate(spec)
	if err != nil {
		return nil, err
	}

	b := &Build{ID: newID(), Spec: spec, CreatedAt: time.Now().UTC(), Events: NewEventLog(),
		start: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancelCause(r.ctx)
	if err := r.enqueue(b); err != nil {
		return nil, err
	}

	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.run(b)
	}()
	return b, nil
}

// Go runs fn on a goroutine of its own that Close waits for. fn's context
// ends when the runner starts closing.
func (r *Runner) Go(fn func(ctx context.Context)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn(r.ctx)
	}()
}

// Get returns a build by id.
func (r *Runner) Get(id string) (*Build, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.builds[id]
	return b, ok
}

// Cancel ends a build: a waiting one leaves the queue, a running one is
// stopped. It reports false for an unknown id.
func (r *Runner) Cancel(id string) bool {
	b, ok := r.Get(id)
	if !ok {
		return false
	}
	b.cancel(ErrCancelled)
	return true
}

// QueueFull reports whether a build submitted now would be refused.
func (r *Runner) QueueFull() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiting) >= r.cfg.MaxQueued
}

// enqueue stores b and gives it a slot, or a place in the queue with its
// position announced.
func (r *Runner) enqueue(b *Build) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.waiting) >= r.cfg.MaxQueued {
		r.log.Warn("build refused: queue full", "waiting", len(r.waiting))
		return ErrQueueFull
	}
	r.rememberLocked(b)
	if r.running < r.cfg.Concurrency && len(r.waiting) == 0 {
		r.running++
		b.Events.Append(Event{Type: EventStatus, Status: StatusQueued})
		close(b.start)
		return nil
	}
	r.waiting = append(r.waiting, b)
	b.Events.Append(Event{Type: EventStatus, Status: StatusQueued, Position: len(r.waiting)})
	return nil
}

// release gives a finished build's slot to the first waiting build and
// tells the others their new place.
func (r *Runner) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.waiting) == 0 {
		r.running--
		return
	}
	next := r.waiting[0]
	r.waiting = r.waiting[1:]
	close(next.start)
	r.announcePositions()
}

// leaveQueue takes a cancelled build out of the queue.
func (r *Runner) leaveQueue(b *Build) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, w := range r.waiting {
		if w == b {
			r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
			r.announcePositions()
			return
		}
	}
}

func (r *Runner) announcePositions() {
	for i, w := range r.waiting {
		w.Events.Append(Event{Type: EventStatus, Status: StatusQueued, Position: i + 1})
	}
}

// Close cancels the builds in flight, lets each one record its result and
// returns when all have.
func (r *Runner) Close() {
	r.cancel(ErrShuttingDown)
	r.wg.Wait()
}

func (r *Runner) run(b *Build) {
	start := time.Now()
	result := Result{Status: StatusSucceeded}
	measure := false
	defer func() {
		result.DurationMs = time.Since(start).Milliseconds()
		b.Events.Append(Event{Type: EventResult, Result: &result})
		attrs := []any{"build_id", b.ID, "status", result.Status, "duration_ms", result.DurationMs}
		if result.Error != nil {
			attrs = append(attrs, "error_kind", result.Error.Kind, "error", result.Error.Message)
		}
		r.log.Info("build finished", attrs...)
		if measure {
			r.measure(b)
		}
		b.Events.Close()
		b.cancel(nil)
		// The stream and the state are all that is served from now on; the
		// context's files would only hold memory.
		b.Spec.Files = nil
	}()

	select {
	case <-b.start:
		defer r.release()
	case <-b.ctx.Done():
		r.leaveQueue(b)
		select {
		case <-b.start: // the slot came at the same moment
			r.release()
		default:
		}
		result = failed(cancelled(b.ctx))
		return
	}

	start = time.Now()
	b.Events.Append(Event{Type: EventStatus, Status: StatusRunning})
	r.log.Info("build started", "build_id", b.ID, "files", len(b.Spec.Files), "target", b.Spec.Target)

	ctx, cancel := context.WithTimeoutCause(b.ctx, r.cfg.Timeout,
		fmt.Errorf("the build ran longer than the %s limit", r.cfg.Timeout))
	defer cancel()
	err := r.worker.Build(ctx, b.ID, b.Spec, func(e Event) { b.Events.Append(e) })
	if err == nil {
		_, measure = r.worker.(Measurer)
		measure = measure && !b.Spec.Options.SkipSizes
		return
	}
	var be *BuildError
	switch {
	case b.ctx.Err() != nil:
		result = failed(cancelled(b.ctx))
	case errors.As(err, &be):
		result = failed(be)
	case ctx.Err() != nil:
		result = failed(&BuildError{Kind: "limit", Message: context.Cause(ctx).Error()})
	default:
		r.log.Error("build failed inside the worker", "build_id", b.ID, "error", err)
		result = failed(&BuildError{Kind: "internal", Message: err.Error()})
	}
}

// measure weighs a successful build's images. It runs after the worker slot
// is given back, so the next queued build starts at once. A failure becomes
// a warning: the build itself succeeded.
func (r *Runner) measure(b *Build) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	defer cancel()
	start := time.Now()
	err := r.worker.(Measurer).Measure(ctx, b.ID, b.Spec, func(e Event) { b.Events.Append(e) })
	if err != nil {
		r.log.Warn("images not measured", "build_id", b.ID, "error", err)
		b.Events.Append(Event{Type: EventWarning, Warning: &Warning{Rule: "layerlab",
			Message: "the image sizes could not be measured: " + err.Error()}})
		return
	}
	r.log.Debug("images measured", "build_id", b.ID, "duration_ms", time.Since(start).Milliseconds())
}

// cancelled describes a build that ended before its time: on request, or
// because the server shut down.
func cancelled(ctx context.Context) *BuildError {
	cause := context.Cause(ctx)
	if errors.Is(cause, ErrCancelled) {
		return &BuildError{Kind: "cancelled", Message: cause.Error()}
	}
	return &BuildError{Kind: "worker", Message: cause.Error()}
}

func failed(be *BuildError) Result {
	return Result{Status: StatusFailed, Error: be}
}

// rememberLocked stores b and forgets the oldest finished builds past the
// keep limit.
func (r *Runner) rememberLocked(b *Build) {
	r.builds[b.ID] = b
	r.order = append(r.order, b.ID)
	for len(r.order) > r.cfg.Keep {
		oldest := r.builds[r.order[0]]
		if _, done, _ := oldest.Events.After(int64(oldest.Events.Len())); !done {
			break
		}
		delete(r.builds, r.order[0])
		r.order = r.order[1:]
	}
}

// State folds the build's events into its current view.
func (b *Build) State() BuildState {
	s := BuildState{
		ID:         b.ID,
		Dockerfile: b.Spec.Dockerfile,
		Target:     b.Spec.Target,
		CreatedAt:  b.CreatedAt,
		Stages:     []Stage{},
		Steps:      []Step{},
		Warnings:   []Warning{},
		Sizes:      []StageSize{},
	}
	events, _, _ := b.Events.After(0)
	for _, e := range events {
		s.Apply(e)
	}
	return s
}

func newID() string {
	var buf [10]byte
	if _, err := rand.Read(buf[:]); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err))
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(buf[:]))
}

// WorkerHealth is what the server says of its worker on /healthz.
type WorkerHealth struct {
	Ready   bool   `json:"ready"`
	Address string `json:"address"`
	Managed bool   `json:"managed"`
	Version string `json:"version,omitempty"`
	Reason  string `json:"reason,omitempty"`
}
