// Package domain holds layerlab's own vocabulary: builds, steps, stages and the
// events that describe them. It does no I/O; the sandbox package fills it from
// BuildKit and the handlers package serves it.
package domain

import (
	"time"
)

// Status is where a build is in its life.
type Status string

// The statuses a build moves through, in order; it ends in exactly one of the
// last two.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
)

// Done reports whether the status is final.
func (s Status) Done() bool { return s == StatusSucceeded || s == StatusFailed }

// Spec is everything a build needs: its context files, the path of the
// Dockerfile among them, the target stage and the build arguments, as a
// person asks for them, and how layerlab runs it.
type Spec struct {
	Files      map[string][]byte
	Dockerfile string
	Target     string
	BuildArgs  map[string]string

	// Options are set by layerlab itself (scenario runs), never by a
	// build request.
	Options BuildOptions
}

// BuildOptions change how a build runs, not what it builds.
type BuildOptions struct {
	// NoCache makes the worker run every step, reusing nothing.
	NoCache bool
	// CacheSalt, when set, gives the build base images of its own (copies
	// that differ only in a label), so that its cache keys are shared only
	// with other builds of the same salt. Measured scenarios use it.
	CacheSalt string
	// SkipSizes leaves the images unmeasured: a scenario's cold build needs
	// only its time, the rebuild's image is the one compared.
	SkipSizes bool
}

// LineRange is a span of Dockerfile lines, 1-based and inclusive, as the
// person wrote them.
type LineRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// StepState tells how far a step got.
type StepState string

// The states of a step. A cached step never runs.
const (
	StepPending StepState = "pending"
	StepRunning StepState = "running"
	StepDone    StepState = "done"
	StepCached  StepState = "cached"
	StepFailed  StepState = "failed"
)

// Step is one instruction of the Dockerfile as the worker ran it, or one of
// the worker's own internal steps (loading the Dockerfile, transferring the
// context, resolving a base image), which carry Internal and no stage.
type Step struct {
	ID          string     `json:"id"`
	Stage       string     `json:"stage"`
	Index       int        `json:"index"`
	Total       int        `json:"total"`
	Instruction string     `json:"instruction"`
	Line        *LineRange `json:"line,omitempty"`
	Internal    bool       `json:"internal,omitempty"`
	State       StepState  `json:"state"`
	Cached      bool       `json:"cached"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
	DurationMs  int64      `json:"durationMs"`
	Error       string     `json:"error,omitempty"`
	// SizeBytes and CompressedBytes are what the step's layer added to its
	// stage's image, once the image is measured; nil before and for steps
	// of stages that were not measured.
	SizeBytes       *int64 `json:"sizeBytes,omitempty"`
	CompressedBytes *int64 `json:"compressedBytes,omitempty"`
	// Reason says, on a rebuild of a scenario, why the step reran or stayed
	// cached; FirstMiss marks the first step that missed the cache.
	Reason    *Reason `json:"reason,omitempty"`
	FirstMiss bool    `json:"firstMiss,omitempty"`
}

// Stage is one FROM block of the Dockerfile. Skipped stages are those the
// target did not need, so the worker never built them.
type Stage struct {
	Name    string    `json:"name"`
	Index   int       `json:"index"`
	Base    string    `json:"base"`
	Line    LineRange `json:"line"`
	Skipped bool      `json:"skipped"`
	// Sizes of the stage's image, once measured.
	SizeBytes       *int64 `json:"sizeBytes,omitempty"`
	CompressedBytes *int64 `json:"compressedBytes,omitempty"`
	Layers          *int   `json:"layers,omitempty"`
}

// Warning is a finding of the Dockerfile linter that runs inside the worker.
type Warning struct {
	Rule    string     `json:"rule"`
	Message string     `json:"message"`
	URL     string     `json:"url,omitempty"`
	Line    *LineRange `json:"line,omitempty"`
}

// BuildError is why a build failed, in words for the person who wrote the
// Dockerfile, with the line it points at when one is known.
type BuildError struct {
	// Kind sorts failures: "input" (rejected before building), "dockerfile"
	// (the frontend could not read it), "step" (an instruction failed),
	// "image" (a base image could not be had), "worker" (the worker went
	// away), "limit" (a time or size limit), "cancelled" or "internal".
	Kind    string     `json:"kind"`
	Message string     `json:"message"`
	Line    *LineRange `json:"line,omitempty"`
	StepID  string     `json:"stepId,omitempty"`
}

func (e *BuildError) Error() string { return e.Message }

// OfTheBuild reports whether the failure came from what was built (the
// Dockerfile, a step, a base image, a limit) rather than from the worker,
// a cancel or layerlab itself.
func (e *BuildError) OfTheBuild() bool {
	switch e.Kind {
	case "dockerfile", "step", "image", "limit":
		return true
	}
	return false
}
