package domain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"
	"unicode"
)

// A scenario run builds each variant cold, applies the changes, and builds
// it again, one variant after another on the same worker. Fairness on a
// worker whose cache everybody shares: each variant gets a salt of its own,
// so its cold build shares no cache key with anything built before (only the
// base image's layers, already pulled, are reused) and its rebuild can reuse
// only what its own cold build left. The cold build also runs with NoCache,
// which covers base images that cannot be salted.

// RunSpec is what POST /api/runs asks for.
type RunSpec struct {
	Variants []VariantSpec
	Changes  []Change
}

// VariantSpec is one variant of a run.
type VariantSpec struct {
	Name string
	Spec Spec
}

// Change is one edit between the cold build and the rebuild: set a file's
// content, delete a file, set build args (an empty value keeps the arg with
// an empty value) or change the target.
type Change struct {
	Path      string            `json:"path,omitempty"`
	Content   *string           `json:"content,omitempty"`
	Delete    string            `json:"delete,omitempty"`
	BuildArgs map[string]string `json:"buildArgs,omitempty"`
	Target    *string           `json:"target,omitempty"`
}

// Planner reads a spec's Dockerfile the way the worker will.
type Planner interface {
	Plan(spec Spec) (*Plan, error)
}

// saltReleaser is a worker that keeps something per cache salt.
type saltReleaser interface {
	ReleaseSalt(salt string)
}

// Runs runs scenarios on a Runner's worker and keeps each one's stream.
type Runs struct {
	runner  *Runner
	planner Planner
	log     *slog.Logger

	mu    sync.Mutex
	runs  map[string]*Run
	order []string // ids, oldest first
}

// keepRuns is how many runs stay in memory; older finished ones are
// forgotten, as builds are.
const keepRuns = 100

// Run is one submitted scenario.
type Run struct {
	ID        string
	Spec      RunSpec
	CreatedAt time.Time
	Events    *EventLog
}

// NewRuns returns the scenario service.
func NewRuns(runner *Runner, planner Planner, log *slog.Logger) *Runs {
	return &Runs{runner: runner, planner: planner, log: log, runs: map[string]*Run{}}
}

// Submit validates every variant, before and after the changes, and starts
// the run.
func (rs *Runs) Submit(spec RunSpec) (*Run, error) {
	if len(spec.Variants) == 0 {
		return nil, inputErrorf("a run needs at least one variant")
	}
	if len(spec.Variants) > 4 {
		return nil, inputErrorf("a run has at most 4 variants, got %d", len(spec.Variants))
	}
	for i, c := range spec.Changes {
		if err := checkChange(c); err != nil {
			return nil, inputErrorf("change %d: %v", i+1, err)
		}
	}
	names := map[string]bool{}
	for i, v := range spec.Variants {
		if v.Name == "" {
			v.Name = fmt.Sprintf("variant %d", i+1)
			spec.Variants[i].Name = v.Name
		}
		if err := checkVariantName(v.Name); err != nil {
			return nil, inputErrorf("variant %d: %v", i+1, err)
		}
		if names[v.Name] {
			return nil, inputErrorf("two variants are named %q", v.Name)
		}
		names[v.Name] = true
		cold, err := rs.runner.Limits().Validate(v.Spec)
		if err != nil {
			return nil, inputErrorf("variant %s: %v", v.Name, err)
		}
		// Each delete must find its file, as the changes before it left
		// the context.
		have := maps.Clone(cold.Files)
		for j, c := range spec.Changes {
			if _, ok := have[c.Delete]; c.Delete != "" && !ok {
				return nil, inputErrorf("change %d deletes %s, which variant %s does not have by then",
					j+1, c.Delete, v.Name)
			}
			delete(have, c.Delete)
			if c.Path != "" {
				have[c.Path] = nil
			}
		}
		if _, err := rs.runner.Limits().Validate(ApplyChanges(cold, spec.Changes)); err != nil {
			return nil, inputErrorf("variant %s after the changes: %v", v.Name, err)
		}
		spec.Variants[i].Spec = cold
	}
	if rs.runner.QueueFull() {
		return nil, ErrQueueFull
	}

	r := &Run{ID: newID(), Spec: spec, CreatedAt: time.Now().UTC(), Events: NewEventLog()}
	r.Events.Append(Event{Type: EventStatus, Status: StatusQueued})
	rs.mu.Lock()
	rs.runs[r.ID] = r
	rs.order = append(rs.order, r.ID)
	for len(rs.order) > keepRuns {
		oldest := rs.runs[rs.order[0]]
		if _, done, _ := oldest.Events.After(int64(oldest.Events.Len())); !done {
			break
		}
		delete(rs.runs, rs.order[0])
		rs.order = rs.order[1:]
	}
	rs.mu.Unlock()

	rs.runner.Go(func(ctx context.Context) { rs.run(ctx, r) })
	return r, nil
}

// Get returns a run by id.
func (rs *Runs) Get(id string) (*Run, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.runs[id]
	return r, ok
}

// ApplyChanges returns spec with the changes made, leaving spec as it was.
func ApplyChanges(spec Spec, changes []Change) Spec {
	out := spec
	out.Files = maps.Clone(spec.Files)
	out.BuildArgs = maps.Clone(spec.BuildArgs)
	for _, c := range changes {
		if c.Path != "" && c.Content != nil {
			out.Files[c.Path] = []byte(*c.Content)
		}
		if c.Delete != "" {
			delete(out.Files, c.Delete)
		}
		if c.BuildArgs != nil {
			if out.BuildArgs == nil {
				out.BuildArgs = map[string]string{}
			}
			maps.Copy(out.BuildArgs, c.BuildArgs)
		}
		if c.Target != nil {
			out.Target = *c.Target
		}
	}
	return out
}

func (rs *Runs) run(ctx context.Context, r *Run) {
	start := time.Now()
	result := Result{Status: StatusSucceeded}
	var variants []VariantResult
	defer func() {
		if len(variants) > 0 {
			cmp := Compare(variants)
			r.Events.Append(Event{Type: EventComparison, Comparison: &cmp})
		}
		result.DurationMs = time.Since(start).Milliseconds()
		r.Events.Append(Event{Type: EventResult, Result: &result})
		r.Events.Close()
		rs.log.Info("run finished", "run_id", r.ID, "status", result.Status, "variants", len(variants),
			"duration_ms", result.DurationMs)
	}()
	r.Events.Append(Event{Type: EventStatus, Status: StatusRunning})

	for i, v := range r.Spec.Variants {
		salt := fmt.Sprintf("%s-%d", r.ID, i)
		vr, err := rs.variant(ctx, r, v, salt)
		if sr, ok := rs.runner.worker.(saltReleaser); ok {
			sr.ReleaseSalt(salt)
		}
		variants = append(variants, vr)
		r.Events.Append(Event{Type: EventVariant, Variant: &vr})
		if err != nil {
			var be *BuildError
			if !errors.As(err, &be) {
				be = &BuildError{Kind: "internal", Message: fmt.Sprintf("%s: %v", v.Name, err)}
			}
			if result.Error == nil {
				result = Result{Status: StatusFailed, Error: be}
			}
			// A Dockerfile that fails is an outcome to compare, maybe the
			// lesson itself; the other variants still run. A worker that
			// fails, a cancel or a shutdown ends the run.
			if !be.OfTheBuild() || ctx.Err() != nil {
				return
			}
		}
	}
}

// checkChange refuses a change that does nothing or more than one thing.
func checkChange(c Change) error {
	did := 0
	if c.Path != "" || c.Content != nil {
		if c.Path == "" {
			return errors.New("content without a path")
		}
		if c.Content == nil {
			return fmt.Errorf("path %s without content (to delete it, use delete)", c.Path)
		}
		did++
	}
	if c.Delete != "" {
		did++
	}
	if len(c.BuildArgs) > 0 {
		did++
	}
	if c.Target != nil {
		did++
	}
	switch did {
	case 0:
		return errors.New("it changes nothing: give path and content, delete, buildArgs or target")
	case 1:
		return nil
	}
	return errors.New("it does more than one thing: give one of path and content, delete, buildArgs " +
		"or target per change")
}

// checkVariantName refuses names a page could not show on one line.
func checkVariantName(name string) error {
	if len(name) > 64 {
		return fmt.Errorf("its name has %d bytes, at most 64 are allowed", len(name))
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("its name %q has a control or invisible character", name)
		}
	}
	return nil
}

// variant runs the cold build and the rebuild of one variant.
func (rs *Runs) variant(ctx context.Context, r *Run, v VariantSpec, salt string) (VariantResult, error) {
	vr := VariantResult{Name: v.Name}
	cold := v.Spec
	cold.Options = BuildOptions{CacheSalt: salt, NoCache: true, SkipSizes: true}
	coldState, err := rs.build(ctx, r, v.Name, PhaseCold, cold)
	vr.Builds = append(vr.Builds, summarize(PhaseCold, coldState))
	if err != nil {
		return vr, err
	}

	rebuild := ApplyChanges(v.Spec, r.Spec.Changes)
	rebuild.Options.CacheSalt = salt
	reState, err := rs.build(ctx, r, v.Name, PhaseRebuild, rebuild)
	if reState.Status == StatusSucceeded {
		before, _ := rs.planner.Plan(cold)
		after, _ := rs.planner.Plan(rebuild)
		reState.Steps = Explain(BuildInput{Spec: cold, Plan: before, Steps: coldState.Steps},
			BuildInput{Spec: rebuild, Plan: after, Steps: reState.Steps})
	}
	vr.Builds = append(vr.Builds, summarize(PhaseRebuild, reState))
	return vr, err
}

// build submits one build of the run, forwards its events into the run's
// stream and returns its final state.
func (rs *Runs) build(ctx context.Context, r *Run, variant string, phase Phase, spec Spec) (BuildState, error) {
	b, err := rs.runner.Submit(spec)
	if err != nil {
		return BuildState{}, err
	}
	ref := &RunRef{Variant: variant, Phase: phase, Build: b.ID}
	var after int64
	for {
		events, done, changed := b.Events.After(after)
		for _, e := range events {
			after = e.Seq
			e.Seq, e.Run = 0, ref
			if e.Type == EventResult {
				e.Type = EventBuildResult
			}
			r.Events.Append(e)
		}
		if done && len(events) == 0 {
			break
		}
		if len(events) == 0 {
			select {
			case <-changed:
			case <-ctx.Done():
				<-changed
			}
		}
	}
	state := b.State()
	if state.Status != StatusSucceeded {
		if state.Error != nil {
			return state, &BuildError{Kind: state.Error.Kind, Line: state.Error.Line, StepID: state.Error.StepID,
				Message: fmt.Sprintf("%s, %s build: %s", variant, phase, state.Error.Message)}
		}
		return state, fmt.Errorf("%s, %s build ended %s", variant, phase, state.Status)
	}
	return state, nil
}

// RunState is what a run's events add up to, as GET /api/runs/{id} answers.
type RunState struct {
	ID         string          `json:"id"`
	Status     Status          `json:"status"`
	CreatedAt  time.Time       `json:"createdAt"`
	DurationMs int64           `json:"durationMs"`
	Current    *RunRef         `json:"current"`
	Variants   []VariantResult `json:"variants"`
	Comparison *Comparison     `json:"comparison"`
	Error      *BuildError     `json:"error"`
}

// State folds the run's events into its current view.
func (r *Run) State() RunState {
	s := RunState{ID: r.ID, CreatedAt: r.CreatedAt, Variants: []VariantResult{}}
	events, _, _ := r.Events.After(0)
	for _, e := range events {
		switch {
		case e.Run != nil:
			s.Current = e.Run
		case e.Type == EventStatus:
			s.Status = e.Status
		case e.Type == EventVariant:
			s.Variants = append(s.Variants, *e.Variant)
		case e.Type == EventComparison:
			s.Comparison = e.Comparison
		case e.Type == EventResult:
			s.Status, s.DurationMs, s.Error, s.Current = e.Result.Status, e.Result.DurationMs, e.Result.Error, nil
		}
	}
	return s
}
