package domain

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// The kinds of reason a rebuild gives for a step.
const (
	ReasonUnchanged     = "unchanged"
	ReasonInstruction   = "instruction"
	ReasonFiles         = "files"
	ReasonBuildArg      = "build-arg"
	ReasonSourceStage   = "source-stage"
	ReasonEarlierStep   = "earlier-step"
	ReasonBase          = "base"
	ReasonNewStep       = "new-step"
	ReasonCacheEviction = "cache-gone"
	ReasonSameKey       = "same-key"
)

// Reason says why a step of a rebuild reran or stayed cached.
type Reason struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	// Files are the context files whose change made a COPY or ADD rerun.
	Files []string `json:"files,omitempty"`
}

// BuildInput is one build of a comparison: what was asked and what the
// worker reported.
type BuildInput struct {
	Spec  Spec
	Plan  *Plan
	Steps []Step
}

// Explain gives every Dockerfile step of the rebuild its reason, computed by
// layerlab from the two specs and plans, and marks the first step that missed
// the cache. The worker's own cached flags stay as they are; where they
// disagree with the prediction, the reason says so.
func Explain(before, after BuildInput) []Step {
	steps := append([]Step(nil), after.Steps...)
	if after.Plan == nil {
		return steps
	}
	e := explainer{before: before, after: after, stageChanged: map[string]bool{}}
	byLine := map[string]int{}
	for i, st := range steps {
		if !st.Internal && st.Line != nil {
			byLine[fmt.Sprintf("%s:%d", st.Stage, st.Line.Start)] = i
		}
	}

	for si, stage := range after.Plan.Stages {
		if stage.Skipped {
			continue
		}
		e.startStage(si, stage)
		if i, ok := byLine[fmt.Sprintf("%s:%d", stage.Name, stage.Line.Start)]; ok {
			steps[i] = e.judge(steps[i], e.baseReason(stage))
		}
		for ii, in := range stage.Instructions {
			e.note(stage, ii, in)
			i, ok := byLine[fmt.Sprintf("%s:%d", stage.Name, in.Line.Start)]
			if !ok {
				continue
			}
			steps[i] = e.judge(steps[i], e.predict(stage, ii, in))
		}
		e.stageChanged[stage.Name] = e.firstRerun != ""
	}

	first := -1
	for i, st := range steps {
		if st.Internal || st.Line == nil || st.Cached {
			continue
		}
		if first < 0 || st.Line.Start < steps[first].Line.Start {
			first = i
		}
	}
	if first >= 0 {
		steps[first].FirstMiss = true
	}
	return steps
}

type explainer struct {
	before, after BuildInput
	stageChanged  map[string]bool

	// Per stage of the rebuild, reset by startStage.
	prev       *PlanStage
	firstRerun string
	argChanges []string
	instrDiff  string
}

func (e *explainer) startStage(si int, stage PlanStage) {
	e.prev, e.firstRerun, e.argChanges, e.instrDiff = nil, "", nil, ""
	if e.before.Plan == nil {
		return
	}
	for i := range e.before.Plan.Stages {
		if e.before.Plan.Stages[i].Name == stage.Name {
			e.prev = &e.before.Plan.Stages[i]
			return
		}
	}
}

// note records what an instruction changes for the steps after it: a build
// arg with a new value, or metadata (ENV, USER...) written differently.
func (e *explainer) note(stage PlanStage, ii int, in Instruction) {
	for name, def := range in.Args {
		was, now := argValue(e.before.Spec, name, def), argValue(e.after.Spec, name, def)
		if was != now {
			e.argChanges = append(e.argChanges, fmt.Sprintf("%s (%q → %q)", name, was, now))
		}
	}
	if in.Keyword != "ARG" && e.prevInstruction(ii) != in.Text && e.instrDiff == "" && !isStep(in.Keyword) {
		e.instrDiff = fmt.Sprintf("%s (line %d)", in.Text, in.Line.Start)
	}
}

func argValue(spec Spec, name string, def *string) string {
	if v, ok := spec.BuildArgs[name]; ok {
		return v
	}
	if def != nil {
		return *def
	}
	return ""
}

// isStep tells the instructions the worker runs as steps of their own.
func isStep(keyword string) bool {
	switch keyword {
	case "RUN", "COPY", "ADD", "WORKDIR":
		return true
	}
	return false
}

func (e *explainer) prevInstruction(ii int) string {
	if e.prev == nil || ii >= len(e.prev.Instructions) {
		return ""
	}
	return e.prev.Instructions[ii].Text
}

func (e *explainer) baseReason(stage PlanStage) Reason {
	switch {
	case e.prev == nil:
		return Reason{Kind: ReasonNewStep, Text: "this stage is new in the rebuild"}
	case stage.Base != e.prev.Base:
		return Reason{Kind: ReasonBase, Text: fmt.Sprintf("its base changed from %s to %s", e.prev.Base, stage.Base)}
	case stage.Parent >= 0 && e.stageChanged[e.after.Plan.Stages[stage.Parent].Name]:
		return Reason{Kind: ReasonBase, Text: fmt.Sprintf("the stage it builds on, %s, changed",
			e.after.Plan.Stages[stage.Parent].Name)}
	}
	return Reason{Kind: ReasonUnchanged, Text: "same base image as before"}
}

// predict says whether a step should rerun and why, in order of precedence.
func (e *explainer) predict(stage PlanStage, ii int, in Instruction) Reason {
	if e.prev == nil || ii >= len(e.prev.Instructions) {
		return Reason{Kind: ReasonNewStep, Text: "this instruction is new in the rebuild"}
	}
	if was := e.prev.Instructions[ii].Text; was != in.Text {
		return Reason{Kind: ReasonInstruction, Text: fmt.Sprintf("its instruction changed (it was: %s)", was)}
	}
	if files := changedFiles(e.before.Spec, e.after.Spec, in.Sources); len(files) > 0 {
		return Reason{Kind: ReasonFiles, Files: files,
			Text: "a file it copies changed: " + listFiles(files)}
	}
	if in.From != "" && e.stageChanged[strings.ToLower(in.From)] {
		return Reason{Kind: ReasonSourceStage, Text: fmt.Sprintf("the stage it copies from, %s, changed", in.From)}
	}
	if in.Keyword == "RUN" && len(e.argChanges) > 0 {
		return Reason{Kind: ReasonBuildArg, Text: "build arg " + strings.Join(e.argChanges, ", ") +
			" changed. BuildKit gives a RUN every ARG declared above it in its environment, " +
			"so this RUN reruns even if it never reads the value"}
	}
	if e.firstRerun != "" {
		return Reason{Kind: ReasonEarlierStep, Text: "an earlier step of its stage reran: " + e.firstRerun +
			"; every step after a rerun step runs again"}
	}
	if e.instrDiff != "" {
		return Reason{Kind: ReasonInstruction, Text: "an earlier instruction changed: " + e.instrDiff}
	}
	if b := e.baseReason(stage); b.Kind != ReasonUnchanged {
		return b
	}
	return Reason{Kind: ReasonUnchanged, Text: unchangedText(in)}
}

var volatile = regexp.MustCompile(`\b(date|RANDOM|curl|wget|apt-get|apk|npm|pip|git|uuidgen)\b`)

func unchangedText(in Instruction) string {
	text := "nothing it depends on changed"
	if in.Keyword == "RUN" {
		text += ". BuildKit reuses a RUN by its command text and the steps before it; " +
			"it does not run the command to see whether the output would differ now"
		if volatile.MatchString(in.Text) {
			text += ", so this one stays cached even though running it again could give another result"
		}
	}
	return text
}

// judge sets the step's reason from the prediction and what the worker did.
func (e *explainer) judge(st Step, predicted Reason) Step {
	rerun := !st.Cached
	if strings.HasPrefix(st.Instruction, "FROM ") {
		// The worker reports an image source as run on every build, yet
		// resolving an unchanged base reuses it.
		rerun = predicted.Kind != ReasonUnchanged
		st.Cached = !rerun
	}
	switch {
	case rerun && predicted.Kind == ReasonUnchanged:
		predicted = Reason{Kind: ReasonCacheEviction,
			Text: "nothing it depends on changed, yet the worker ran it again: its cached result was gone"}
	case !rerun && predicted.Kind != ReasonUnchanged:
		predicted = Reason{Kind: ReasonSameKey,
			Text: "the worker found a result with the same cache key, so it stayed cached although " +
				predicted.Text}
	}
	if rerun && e.firstRerun == "" {
		e.firstRerun = fmt.Sprintf("%s (line %d)", st.Instruction, lineStart(st.Line))
	}
	st.Reason = &predicted
	return st
}

func lineStart(l *LineRange) int {
	if l == nil {
		return 0
	}
	return l.Start
}

// changedFiles lists the context files the sources take whose content
// differs between the two specs, added and deleted ones included.
func changedFiles(before, after Spec, sources []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, files := range []map[string][]byte{before.Files, after.Files} {
		for name := range files {
			if seen[name] || !copies(sources, name) {
				continue
			}
			seen[name] = true
			a, inA := before.Files[name]
			b, inB := after.Files[name]
			if inA != inB || !bytes.Equal(a, b) {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// copies reports whether a COPY of the sources takes the context file name.
func copies(sources []string, name string) bool {
	for _, src := range sources {
		s := strings.TrimPrefix(path.Clean("/"+src), "/")
		if s == "" {
			return true
		}
		for p := name; p != "." && p != "/"; p = path.Dir(p) {
			if ok, _ := path.Match(s, p); ok {
				return true
			}
		}
	}
	return false
}

func listFiles(files []string) string {
	if len(files) > 5 {
		return strings.Join(files[:5], ", ") + fmt.Sprintf(" and %d more", len(files)-5)
	}
	return strings.Join(files, ", ")
}
