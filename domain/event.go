package domain

import "time"

// EventType names what an Event reports.
type EventType string

// The events of a build's stream. Every stream has exactly one EventResult;
// a successful build's stream goes on with the sizes of its images.
const (
	EventStatus        EventType = "status"
	EventStages        EventType = "stages"
	EventStepStarted   EventType = "step.started"
	EventStepCompleted EventType = "step.completed"
	EventStepCached    EventType = "step.cached"
	EventStepFailed    EventType = "step.failed"
	EventLogChunk      EventType = "log"
	EventWarning       EventType = "warning"
	EventProgress      EventType = "progress"
	EventStageSize     EventType = "stage.size"
	EventImage         EventType = "image"
	EventBuildResult   EventType = "build.result"
	EventVariant       EventType = "variant"
	EventComparison    EventType = "comparison"
	EventResult        EventType = "result"
)

// Event is one entry of a build's append-only stream. Seq counts from 1 with
// no gaps, so a viewer that saw up to N asks for what came after N.
type Event struct {
	Seq    int64     `json:"seq"`
	Type   EventType `json:"type"`
	Time   time.Time `json:"time"`
	Status Status    `json:"status,omitempty"`
	// Position is a queued build's place in the queue, 1 for next.
	Position int          `json:"position,omitempty"`
	Stages   []Stage      `json:"stages,omitempty"`
	Step     *Step        `json:"step,omitempty"`
	Log      *LogChunk    `json:"log,omitempty"`
	Warning  *Warning     `json:"warning,omitempty"`
	Progress *Progress    `json:"progress,omitempty"`
	Size     *StageSize   `json:"size,omitempty"`
	Image    *ImageReport `json:"image,omitempty"`
	Result   *Result      `json:"result,omitempty"`

	// Run tags the events of a scenario run with the build they came from.
	Run        *RunRef        `json:"run,omitempty"`
	Variant    *VariantResult `json:"variant,omitempty"`
	Comparison *Comparison    `json:"comparison,omitempty"`
}

// LogChunk is output a step wrote. Data is text; bytes that are not UTF-8 are
// replaced.
type LogChunk struct {
	StepID string `json:"stepId"`
	Stream string `json:"stream"`
	Data   string `json:"data"`
}

// Progress counts the Dockerfile steps the worker planned and finished.
type Progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Result is how a build ended.
type Result struct {
	Status     Status      `json:"status"`
	DurationMs int64       `json:"durationMs"`
	Error      *BuildError `json:"error,omitempty"`
}
