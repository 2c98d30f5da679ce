package sandbox

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/layerlab/layerlab/domain"
)

// plan is what layerlab reads from a Dockerfile before the worker sees it:
// its stages, which of them the target needs, and the lines of every step the
// worker will name. BuildKit's status names a step "[stage i/n] INSTRUCTION"
// and carries no line, so the plan is how a step finds its line.
type plan struct {
	stages []domain.Stage
	// steps maps a stage's progress name and a step index (1-based, as in
	// "[builder 2/4]") to the instruction's lines.
	steps map[stepKey]domain.LineRange
	// from maps a stage's progress name to its FROM line as written, which
	// reads better than the resolved reference BuildKit names the step by.
	from map[string]string
	// source maps the progress name of a stage that starts from an image to
	// the image and platform it pulls; stages with the same source share
	// BuildKit's one FROM step. total is each stage's step count.
	source map[string]string
	total  map[string]int
	// refs holds, for each stage that starts from an image, the image as
	// BuildKit spells it (docker.io/library/busybox:latest), else "".
	refs []string
	// instrs lists each stage's instructions after FROM, for matching
	// image history entries to lines.
	instrs [][]instr
	// parent is the index of the stage a stage's FROM names, or -1 for an
	// image or scratch.
	parent []int
	// public is the plan in layerlab's own terms.
	public domain.Plan
}

// instr is one instruction of a stage as written.
type instr struct {
	keyword string
	text    string
	line    domain.LineRange
}

type stepKey struct {
	stage string
	index int
}

// readPlan parses the Dockerfile the way the frontend does. It fails only
// when the frontend would fail too; the caller then lets the frontend report
// the error, since its message is the one people search for.
func readPlan(dockerfile []byte, target string, buildArgs map[string]string) (*plan, error) {
	ast, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("parse dockerfile: %w", err)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("parse instructions: %w", err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("dockerfile has no stages")
	}
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	for k, v := range buildArgs {
		args[k] = v
	}

	p := &plan{steps: map[stepKey]domain.LineRange{}, from: map[string]string{},
		source: map[string]string{}, total: map[string]int{}}
	byName := map[string]int{}
	for i, st := range stages {
		base := expandArgs(st.BaseName, args)
		p.stages = append(p.stages, domain.Stage{
			Name:  stageName(st, i),
			Index: i,
			Base:  base,
			Line:  lineRange(st.Location),
		})
		progressName := stageName(st, i)
		if len(stages) == 1 {
			// BuildKit leaves the stage out of step names when there is only one.
			progressName = ""
		}
		index := 0
		parent, fromStage := byName[strings.ToLower(base)]
		if !fromStage {
			parent = -1
		}
		p.parent = append(p.parent, parent)
		var list []instr
		pub := domain.PlanStage{Name: stageName(st, i), Base: base, Parent: parent, Line: lineRange(st.Location)}
		for _, cmd := range st.Commands {
			in := instr{
				keyword: strings.ToUpper(cmd.Name()),
				text:    sourceText(cmd),
				line:    lineRange(cmd.Location()),
			}
			list = append(list, in)
			pub.Instructions = append(pub.Instructions, publicInstruction(cmd, in))
		}
		p.instrs = append(p.instrs, list)
		p.public.Stages = append(p.public.Stages, pub)
		ref := ""
		if !fromStage && base != "scratch" {
			index++
			p.steps[stepKey{progressName, index}] = lineRange(st.Location)
			p.from[progressName] = strings.Join(strings.Fields(st.SourceCode), " ")
			var err error
			if ref, err = normalize(base); err != nil {
				ref = base
			}
			p.source[progressName] = ref + "\x00" + expandArgs(st.Platform, args)
		}
		p.refs = append(p.refs, ref)
		for _, cmd := range st.Commands {
			switch cmd.(type) {
			case *instructions.AddCommand, *instructions.CopyCommand,
				*instructions.RunCommand, *instructions.WorkdirCommand:
				index++
				p.steps[stepKey{progressName, index}] = lineRange(cmd.Location())
			}
		}
		p.total[progressName] = index
		if st.Name != "" {
			byName[st.Name] = i
		}
	}

	if err := p.markSkipped(stages, byName, target); err != nil {
		return nil, err
	}
	return p, nil
}

// markSkipped marks the stages the target does not reach through FROM,
// COPY --from or RUN --mount=from.
func (p *plan) markSkipped(stages []instructions.Stage, byName map[string]int, target string) error {
	want := len(stages) - 1
	if target != "" {
		i, ok := byName[strings.ToLower(target)]
		if !ok {
			return fmt.Errorf("target stage %q could not be found", target)
		}
		want = i
	}
	resolve := func(ref string) (int, bool) {
		if i, ok := byName[strings.ToLower(ref)]; ok {
			return i, true
		}
		if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < len(stages) {
			return n, true
		}
		return 0, false
	}

	needed := map[int]bool{}
	var visit func(i int)
	visit = func(i int) {
		if needed[i] {
			return
		}
		needed[i] = true
		if dep, ok := resolve(p.stages[i].Base); ok && dep < i {
			visit(dep)
		}
		for _, cmd := range stages[i].Commands {
			for _, from := range sourcesOf(cmd) {
				if dep, ok := resolve(from); ok && dep != i {
					visit(dep)
				}
			}
		}
	}
	visit(want)
	for i := range p.stages {
		p.stages[i].Skipped = !needed[i]
		p.public.Stages[i].Skipped = !needed[i]
	}
	return nil
}

// publicInstruction describes what an instruction depends on.
func publicInstruction(cmd instructions.Command, in instr) domain.Instruction {
	out := domain.Instruction{Keyword: in.keyword, Text: in.text, Line: in.line}
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			out.From = c.From
		} else if len(c.SourceContents) == 0 {
			out.Sources = append(out.Sources, c.SourcePaths...)
		}
	case *instructions.AddCommand:
		if len(c.SourceContents) == 0 {
			for _, src := range c.SourcePaths {
				if !strings.Contains(src, "://") {
					out.Sources = append(out.Sources, src)
				}
			}
		}
	case *instructions.ArgCommand:
		out.Args = map[string]*string{}
		for _, kv := range c.Args {
			out.Args[kv.Key] = kv.Value
		}
	case *instructions.RunCommand:
		for _, from := range sourcesOf(c) {
			out.From = from
		}
	}
	return out
}

// sourcesOf lists the stages a command reads from.
func sourcesOf(cmd instructions.Command) []string {
	var out []string
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			out = append(out, c.From)
		}
	case *instructions.RunCommand:
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				out = append(out, m.From)
			}
		}
	}
	return out
}

// line returns the lines of a step named "[stage i/n] ...".
func (p *plan) line(stage string, index int) *domain.LineRange {
	if p == nil {
		return nil
	}
	r, ok := p.steps[stepKey{stage, index}]
	if !ok {
		return nil
	}
	return &r
}

// sourceText is an instruction as written, continuation lines joined.
func sourceText(cmd instructions.Command) string {
	if s, ok := cmd.(fmt.Stringer); ok {
		return s.String()
	}
	return cmd.Name()
}

func stageName(st instructions.Stage, i int) string {
	if st.Name != "" {
		return st.Name
	}
	return fmt.Sprintf("stage-%d", i)
}

func lineRange(loc []parser.Range) domain.LineRange {
	if len(loc) == 0 {
		return domain.LineRange{}
	}
	r := domain.LineRange{Start: loc[0].Start.Line, End: loc[0].End.Line}
	for _, l := range loc[1:] {
		r.End = max(r.End, l.End.Line)
	}
	return r
}

var argRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// expandArgs substitutes $NAME and ${NAME} in a FROM line with the global
// ARG values, enough to tell whether a stage builds on another stage.
func expandArgs(s string, args map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return argRef.ReplaceAllStringFunc(s, func(m string) string {
		return args[argRef.FindStringSubmatch(m)[1]]
	})
}

// Plan reads the spec's Dockerfile as the frontend will, in layerlab's terms.
func (w *Worker) Plan(spec domain.Spec) (*domain.Plan, error) {
	p, err := readPlan(spec.Files[spec.Dockerfile], spec.Target, spec.BuildArgs)
	if err != nil {
		return nil, err
	}
	return &p.public, nil
}

// sharingFrom lists the other stages the build needs whose FROM pulls the
// same image as stage's: BuildKit pulls it once, as one step named after one
// of them.
func (p *plan) sharingFrom(stage string) []string {
	if p == nil {
		return nil
	}
	src, ok := p.source[stage]
	if !ok {
		return nil
	}
	var out []string
	for _, st := range p.stages {
		if st.Name != stage && !st.Skipped && p.source[st.Name] == src {
			out = append(out, st.Name)
		}
	}
	return out
}

// lineOfBase returns the FROM line of the first stage whose base image is
// ref, spelled as BuildKit spells it.
func (p *plan) lineOfBase(ref string) *domain.LineRange {
	if p == nil {
		return nil
	}
	for i, st := range p.stages {
		if p.refs[i] == ref {
			r := st.Line
			return &r
		}
	}
	return nil
}

var copyFrom = regexp.MustCompile(`(?i)--from=(\S+)`)

// stageHint says which instruction named an image that was likely meant as
// a stage.
type stageHint struct {
	text string
	line *domain.LineRange
}

// stageMeant looks for what made the frontend pull ref where the person
// probably meant a stage: a COPY --from or a FROM naming something that is
// no stage above it. It returns nil when ref is a base named as an image.
func (p *plan) stageMeant(ref string) *stageHint {
	if p == nil {
		return nil
	}
	names := map[string]int{}
	for i, st := range p.stages {
		names[st.Name] = i
	}
	for i, st := range p.stages {
		if p.refs[i] == ref {
			if j, ok := names[strings.ToLower(st.Base)]; ok && j >= i {
				r := st.Line
				return &stageHint{fmt.Sprintf("FROM %s names stage %s, which comes later: a stage can "+
					"build only on stages above it", st.Base, st.Base), &r}
			}
			return nil
		}
		for _, in := range p.instrs[i] {
			m := copyFrom.FindStringSubmatch(in.text)
			if m == nil || in.keyword != "COPY" {
				continue
			}
			if n, err := normalize(m[1]); err == nil && n == ref {
				r := in.line
				return &stageHint{fmt.Sprintf("COPY --from=%s names no stage of this Dockerfile "+
					"(its stages: %s)", m[1], strings.Join(p.stageNames(), ", ")), &r}
			}
		}
	}
	return nil
}

func (p *plan) stageNames() []string {
	var out []string
	for _, st := range p.stages {
		out = append(out, st.Name)
	}
	return out
}

// lineNaming returns the lines of the first instruction whose text holds s.
func (p *plan) lineNaming(s string) *domain.LineRange {
	if p == nil || s == "" {
		return nil
	}
	for i := range p.stages {
		for _, in := range p.instrs[i] {
			if strings.Contains(in.text, s) {
				r := in.line
				return &r
			}
		}
	}
	return nil
}

// fromText returns a stage's FROM line as written.
func (p *plan) fromText(stage string) (string, bool) {
	if p == nil {
		return "", false
	}
	text, ok := p.from[stage]
	return text, ok
}
