package domain

import (
	"slices"
	"time"
)

// BuildState is what a build's events add up to: the view GET /api/builds/{id}
// answers with. It is rebuilt from the event log, so a replay and a live
// build look the same.
type BuildState struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	// QueuePosition is the build's place in the queue while it waits.
	QueuePosition int          `json:"queuePosition,omitempty"`
	Dockerfile    string       `json:"dockerfile"`
	Target        string       `json:"target"`
	CreatedAt     time.Time    `json:"createdAt"`
	DurationMs    int64        `json:"durationMs"`
	Stages        []Stage      `json:"stages"`
	Steps         []Step       `json:"steps"`
	Warnings      []Warning    `json:"warnings"`
	Progress      Progress     `json:"progress"`
	Sizes         []StageSize  `json:"sizes"`
	Image         *ImageReport `json:"image"`
	Error         *BuildError  `json:"error"`
}

// Apply folds one event into the state. Log chunks are left out: they stay in
// the event stream.
func (s *BuildState) Apply(e Event) {
	switch e.Type {
	case EventStatus:
		s.Status, s.QueuePosition = e.Status, e.Position
	case EventStages:
		s.Stages = append([]Stage(nil), e.Stages...)
	case EventStepStarted, EventStepCompleted, EventStepCached, EventStepFailed:
		s.putStep(*e.Step)
	case EventWarning:
		s.Warnings = append(s.Warnings, *e.Warning)
	case EventProgress:
		s.Progress = *e.Progress
	case EventStageSize:
		s.applySize(*e.Size)
	case EventImage:
		s.Image = e.Image
	case EventResult:
		s.Status = e.Result.Status
		s.DurationMs = e.Result.DurationMs
		s.Error = e.Result.Error
	}
}

func (s *BuildState) putStep(step Step) {
	for i := range s.Steps {
		if s.Steps[i].ID == step.ID {
			s.Steps[i] = step
			return
		}
	}
	s.Steps = append(s.Steps, step)
}

// applySize records a stage's measured size on the stage and on the steps
// whose layers it weighed, matched by stage and line; the FROM step gets the
// base's share.
func (s *BuildState) applySize(size StageSize) {
	// Sizes arrive as stages finish measuring; they are kept in Dockerfile
	// order.
	at := len(s.Sizes)
	if order := s.stageOrder(size.Name); order >= 0 {
		for i, have := range s.Sizes {
			if s.stageOrder(have.Name) > order {
				at = i
				break
			}
		}
	}
	s.Sizes = slices.Insert(s.Sizes, at, size)
	for i := range s.Stages {
		// Two stages may share a name; the skipped one was not measured.
		if s.Stages[i].Name == size.Name && !s.Stages[i].Skipped {
			s.Stages[i].SizeBytes = &size.SizeBytes
			s.Stages[i].CompressedBytes = &size.CompressedBytes
			s.Stages[i].Layers = &size.Layers
		}
	}
	for _, row := range size.Rows {
		if row.Line == nil {
			continue
		}
		for i := range s.Steps {
			st := &s.Steps[i]
			if st.Stage == size.Name && st.Line != nil && st.Line.Start == row.Line.Start {
				st.SizeBytes = &row.SizeBytes
				st.CompressedBytes = &row.CompressedBytes
			}
		}
	}
}

// stageOrder is the place of the named stage in the Dockerfile, or -1.
func (s *BuildState) stageOrder(name string) int {
	for i, st := range s.Stages {
		if st.Name == name {
			return i
		}
	}
	return -1
}
