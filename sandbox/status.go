package sandbox

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/client"

	"github.com/layerlab/layerlab/domain"
)

// Log volume limits: a step that prints without end must not fill the
// server's memory or every viewer's browser.
const (
	maxStepLog  = 256 << 10
	maxBuildLog = 2 << 20
)

// translator turns BuildKit's status stream into layerlab's events. It keeps
// each step's state so that it reports every transition once, whatever
// BuildKit repeats.
type translator struct {
	plan  *plan
	emit  func(domain.Event)
	steps map[string]*trackedStep
	order []string
	// copies maps a FROM step shared by several stages to its copies in the
	// stages BuildKit did not name it after.
	copies map[string][]*trackedStep
	done   int
	total  int

	buildLog int
}

type trackedStep struct {
	domain.Step
	logBytes  int
	logCapped bool
}

func newTranslator(p *plan, emit func(domain.Event)) *translator {
	return &translator{plan: p, emit: emit, steps: map[string]*trackedStep{},
		copies: map[string][]*trackedStep{}}
}

// stepName matches BuildKit's names for Dockerfile steps: "[builder 2/4] RUN
// make", "[1/3] FROM docker.io/library/busybox", with the index padded to the
// width of the total.
var stepName = regexp.MustCompile(`^\[(?:([^\s\]]+) )?\s*(\d+)/(\d+)\] (.*)$`)

func (t *translator) apply(s *client.SolveStatus) {
	done, total := t.done, t.total
	for _, v := range s.Vertexes {
		t.vertex(v)
	}
	if t.done != done || t.total != total {
		t.emit(domain.Event{Type: domain.EventProgress, Progress: &domain.Progress{Done: t.done, Total: t.total}})
	}
	for _, l := range s.Logs {
		t.log(l)
	}
	for _, w := range s.Warnings {
		t.warning(w)
	}
}

func (t *translator) vertex(v *client.Vertex) {
	id := v.Digest.String()
	st, seen := t.steps[id]
	if !seen {
		st = &trackedStep{Step: t.newStep(id, v.Name)}
		t.steps[id] = st
		t.order = append(t.order, id)
		if !st.Internal {
			t.total++
		}
		t.shareFrom(st)
	}
	if st.State == domain.StepDone || st.State == domain.StepCached || st.State == domain.StepFailed {
		return
	}

	if v.Started != nil && st.StartedAt == nil {
		st.StartedAt = utc(v.Started)
	}
	switch {
	case v.Completed != nil && v.Error != "":
		st.finish(domain.StepFailed, v.Completed)
		st.Error = cleanError(v.Error)
		t.emitStep(domain.EventStepFailed, st)
	case v.Completed != nil && v.Cached:
		st.Cached = true
		st.finish(domain.StepCached, v.Completed)
		st.DurationMs = 0
		t.emitStep(domain.EventStepCached, st)
	case v.Completed != nil:
		st.finish(domain.StepDone, v.Completed)
		t.emitStep(domain.EventStepCompleted, st)
	case v.Started != nil && st.State == domain.StepPending:
		st.State = domain.StepRunning
		t.emitStep(domain.EventStepStarted, st)
	}
}

func (t *translator) newStep(id, name string) domain.Step {
	step := domain.Step{ID: id, Instruction: name, State: domain.StepPending}
	m := stepName.FindStringSubmatch(name)
	if m == nil {
		step.Internal = true
		step.Instruction = strings.TrimPrefix(name, "[internal] ")
		return step
	}
	step.Stage = m[1]
	step.Index, _ = strconv.Atoi(m[2])
	step.Total, _ = strconv.Atoi(m[3])
	step.Instruction = m[4]
	step.Line = t.plan.line(step.Stage, step.Index)
	if text, ok := t.plan.fromText(step.Stage); ok && step.Index == 1 && strings.HasPrefix(step.Instruction, "FROM ") {
		step.Instruction = text
	}
	if step.Stage == "" && t.plan != nil && len(t.plan.stages) == 1 {
		step.Stage = t.plan.stages[0].Name
	}
	return step
}

func (st *trackedStep) finish(state domain.StepState, completed *time.Time) {
	st.State = state
	st.CompletedAt = utc(completed)
	if st.StartedAt == nil {
		st.StartedAt = st.CompletedAt
	}
	st.DurationMs = st.CompletedAt.Sub(*st.StartedAt).Milliseconds()
}

func (t *translator) emitStep(typ domain.EventType, st *trackedStep) {
	step := st.Step
	t.emit(domain.Event{Type: typ, Step: &step})
	if !st.Internal && typ != domain.EventStepStarted {
		t.done++
	}
	for _, c := range t.copies[st.ID] {
		c.State, c.Cached, c.Error = st.State, st.Cached, st.Error
		c.StartedAt, c.CompletedAt, c.DurationMs = st.StartedAt, st.CompletedAt, st.DurationMs
		step := c.Step
		t.emit(domain.Event{Type: typ, Step: &step})
	}
}

// shareFrom gives a FROM step a copy in every other stage that starts from
// the same image: BuildKit merges their identical pulls into one step, named
// after one stage, and the others would show no start. The copies follow
// the step's state; they are not counted in the progress, which is the
// worker's.
func (t *translator) shareFrom(st *trackedStep) {
	if st.Internal || st.Index != 1 || !strings.HasPrefix(st.Instruction, "FROM") {
		return
	}
	for _, stage := range t.plan.sharingFrom(st.Stage) {
		if t.hasFrom(stage) {
			continue
		}
		c := &trackedStep{Step: st.Step}
		c.ID = st.ID + "/" + stage
		c.Stage = stage
		c.Total = t.plan.total[stage]
		c.Line = t.plan.line(stage, 1)
		if text, ok := t.plan.fromText(stage); ok {
			c.Instruction = text
		}
		t.steps[c.ID] = c
		t.order = append(t.order, c.ID)
		t.copies[st.ID] = append(t.copies[st.ID], c)
	}
}

// hasFrom reports whether the stage's FROM step is known already.
func (t *translator) hasFrom(stage string) bool {
	for _, st := range t.steps {
		if st.Stage == stage && st.Index == 1 && !st.Internal {
			return true
		}
	}
	return false
}

func (t *translator) log(l *client.VertexLog) {
	st, ok := t.steps[l.Vertex.String()]
	if !ok || st.logCapped {
		return
	}
	data := l.Data
	note := ""
	switch {
	case t.buildLog+len(data) > maxBuildLog:
		data = data[:max(0, maxBuildLog-t.buildLog)]
		note = fmt.Sprintf("\n[layerlab: the build's log passed %s; the rest is not kept]\n",
			domain.FormatBytes(maxBuildLog))
	case st.logBytes+len(data) > maxStepLog:
		data = data[:maxStepLog-st.logBytes]
		note = fmt.Sprintf("\n[layerlab: this step's log passed %s; the rest is not kept]\n",
			domain.FormatBytes(maxStepLog))
	}
	st.logBytes += len(data)
	t.buildLog += len(data)
	if note != "" {
		st.logCapped = true
	}
	stream := "stdout"
	if l.Stream == 2 {
		stream = "stderr"
	}
	text := strings.ToValidUTF8(string(data), "\uFFFD") + note
	if text == "" {
		return
	}
	t.emit(domain.Event{Type: domain.EventLogChunk, Log: &domain.LogChunk{StepID: st.ID, Stream: stream, Data: text}})
}

var lineSuffix = regexp.MustCompile(` \(line \d+\)$`)

func (t *translator) warning(w *client.VertexWarning) {
	short := string(w.Short)
	rule, msg, ok := strings.Cut(short, ": ")
	if !ok {
		rule, msg = "", short
	}
	warning := domain.Warning{Rule: rule, Message: lineSuffix.ReplaceAllString(msg, ""), URL: w.URL}
	if len(w.Range) > 0 {
		r := domain.LineRange{Start: int(w.Range[0].Start.Line), End: int(w.Range[0].End.Line)}
		for _, x := range w.Range[1:] {
			r.End = max(r.End, int(x.End.Line))
		}
		warning.Line = &r
	}
	t.emit(domain.Event{Type: domain.EventWarning, Warning: &warning})
}

// failedStep returns the Dockerfile step whose failure ended the build. When
// one step fails, BuildKit cancels the steps running beside it and reports
// them failed too, with a "context canceled" error; the solve's own error
// names the step that really failed.
func (t *translator) failedStep(solveErr string) *domain.Step {
	var first *domain.Step
	for _, id := range t.order {
		st := t.steps[id]
		if st.State != domain.StepFailed {
			continue
		}
		if st.Error != "" && strings.Contains(solveErr, st.Error) {
			return &st.Step
		}
		if first == nil && !strings.Contains(st.Error, "context canceled") {
			first = &st.Step
		}
	}
	return first
}

// running lists the Dockerfile steps still running, for a timeout message,
// in Dockerfile order: also those the worker already reports failed because
// the deadline cancelled them.
func (t *translator) running() []string {
	var cut []*trackedStep
	for _, id := range t.order {
		st := t.steps[id]
		cancelled := st.State == domain.StepFailed && strings.Contains(st.Error, "context canceled")
		if (st.State == domain.StepRunning || cancelled) && !st.Internal {
			cut = append(cut, st)
		}
	}
	line := func(st *trackedStep) int {
		if st.Line == nil {
			return 0
		}
		return st.Line.Start
	}
	slices.SortStableFunc(cut, func(a, b *trackedStep) int { return line(a) - line(b) })
	var out []string
	for _, st := range cut {
		where := ""
		if st.Line != nil {
			where = fmt.Sprintf(" (line %d)", st.Line.Start)
		}
		out = append(out, st.Instruction+where)
	}
	return out
}

// sawSteps reports whether the worker announced any Dockerfile step.
func (t *translator) sawSteps() bool { return t.total > 0 }

func utc(t *time.Time) *time.Time {
	u := t.UTC()
	return &u
}
