package domain

import "time"

// BuildState is what a build's events add up to: the view GET /api/builds/{id}
// answers with. It is rebuilt from the event log, so a replay and a live
// build look the same.
type BuildState struct {
	ID         string      `json:"id"`
	Status     Status      `json:"status"`
	Dockerfile string      `json:"dockerfile"`
	Target     string      `json:"target"`
	CreatedAt  time.Time   `json:"createdAt"`
	DurationMs int64       `json:"durationMs"`
	Stages     []Stage     `json:"stages"`
	Steps      []Step      `json:"steps"`
	Warnings   []Warning   `json:"warnings"`
	Progress   Progress    `json:"progress"`
	Error      *BuildError `json:"error"`
}

// Apply folds one event into the state. Log chunks are left out: they stay in
// the event stream.
func (s *BuildState) Apply(e Event) {
	switch e.Type {
	case EventStatus:
		s.Status = e.Status
	case EventStages:
		s.Stages = append([]Stage(nil), e.Stages...)
	case EventStepStarted, EventStepCompleted, EventStepCached, EventStepFailed:
		s.putStep(*e.Step)
	case EventWarning:
		s.Warnings = append(s.Warnings, *e.Warning)
	case EventProgress:
		s.Progress = *e.Progress
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
