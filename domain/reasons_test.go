package domain

import (
	"strings"
	"testing"
)

func TestCopies(t *testing.T) {
	tests := []struct {
		sources []string
		name    string
		want    bool
	}{
		{[]string{"."}, "src/main.go", true},
		{[]string{"./"}, "a", true},
		{[]string{"deps.txt"}, "deps.txt", true},
		{[]string{"deps.txt"}, "main.sh", false},
		{[]string{"src"}, "src/a/b.go", true},
		{[]string{"src/"}, "srcx/b.go", false},
		{[]string{"*.json"}, "package.json", true},
		{[]string{"*.json"}, "app/package.json", false},
		{[]string{"app/*"}, "app/x/y.txt", true},
		{[]string{"/abs.txt"}, "abs.txt", true},
	}
	for _, tt := range tests {
		if got := copies(tt.sources, tt.name); got != tt.want {
			t.Errorf("copies(%v, %q) = %v, want %v", tt.sources, tt.name, got, tt.want)
		}
	}
}

// plan builds a one-stage plan of busybox with the given instructions.
func plan(instrs ...Instruction) *Plan {
	for i := range instrs {
		instrs[i].Line = LineRange{Start: i + 2, End: i + 2}
	}
	return &Plan{Stages: []PlanStage{{Name: "stage-0", Base: "busybox", Parent: -1,
		Line: LineRange{Start: 1, End: 1}, Instructions: instrs}}}
}

func steps(p *Plan, cached ...bool) []Step {
	out := []Step{{Stage: "stage-0", Instruction: "FROM docker.io/library/busybox:latest", Line: &LineRange{1, 1}}}
	i := 0
	for _, in := range p.Stages[0].Instructions {
		if !isStep(in.Keyword) {
			continue
		}
		l := in.Line
		out = append(out, Step{Stage: "stage-0", Instruction: in.Text, Line: &l, Cached: cached[i]})
		i++
	}
	return out
}

func TestExplain(t *testing.T) {
	copyAll := Instruction{Keyword: "COPY", Text: "COPY . .", Sources: []string{"."}}
	copyDeps := Instruction{Keyword: "COPY", Text: "COPY deps.txt ./", Sources: []string{"deps.txt"}}
	install := Instruction{Keyword: "RUN", Text: "RUN install"}
	argR := Instruction{Keyword: "ARG", Text: "ARG R", Args: map[string]*string{"R": nil}}
	v1 := map[string][]byte{"deps.txt": []byte("d"), "main.sh": []byte("v1")}
	v2 := map[string][]byte{"deps.txt": []byte("d"), "main.sh": []byte("v2")}

	type want struct {
		kind, text string
		first      bool
	}
	tests := []struct {
		name          string
		before, after Spec
		plan          *Plan
		afterPlan     *Plan
		cached        []bool
		want          []want // per step, FROM first
	}{
		{
			name: "bad copy order", before: Spec{Files: v1}, after: Spec{Files: v2},
			plan: plan(copyAll, install), cached: []bool{false, false},
			want: []want{{ReasonUnchanged, "same base", false}, {ReasonFiles, "main.sh", true},
				{ReasonEarlierStep, "COPY . . (line 2)", false}},
		},
		{
			name: "good copy order", before: Spec{Files: v1}, after: Spec{Files: v2},
			plan: plan(copyDeps, install, copyAll), cached: []bool{true, true, false},
			want: []want{{ReasonUnchanged, "", false}, {ReasonUnchanged, "nothing", false},
				{ReasonUnchanged, "command text", false}, {ReasonFiles, "main.sh", true}},
		},
		{
			name:   "build arg above a RUN",
			before: Spec{Files: v1, BuildArgs: map[string]string{"R": "1"}},
			after:  Spec{Files: v1, BuildArgs: map[string]string{"R": "2"}},
			plan:   plan(argR, copyDeps, install), cached: []bool{true, false},
			want: []want{{ReasonUnchanged, "", false}, {ReasonUnchanged, "", false},
				{ReasonBuildArg, `R ("1" → "2")`, true}},
		},
		{
			name: "instruction changed", before: Spec{Files: v1}, after: Spec{Files: v1},
			plan: plan(copyDeps, install), afterPlan: plan(copyDeps, Instruction{Keyword: "RUN", Text: "RUN install --fast"}),
			cached: []bool{true, false},
			want: []want{{ReasonUnchanged, "", false}, {ReasonUnchanged, "", false},
				{ReasonInstruction, "it was: RUN install", true}},
		},
		{
			name: "rerun with nothing changed", before: Spec{Files: v1}, after: Spec{Files: v1},
			plan: plan(copyDeps, Instruction{Keyword: "RUN", Text: "RUN date > /stamp"}), cached: []bool{true, false},
			want: []want{{ReasonUnchanged, "", false}, {ReasonUnchanged, "", false},
				{ReasonCacheEviction, "cached result was gone", true}},
		},
		{
			name: "volatile RUN stays cached", before: Spec{Files: v1}, after: Spec{Files: v1},
			plan: plan(Instruction{Keyword: "RUN", Text: "RUN date > /stamp"}), cached: []bool{true},
			want: []want{{ReasonUnchanged, "", false}, {ReasonUnchanged, "could give another result", false}},
		},
		{
			name: "changed file but same key", before: Spec{Files: v1}, after: Spec{Files: v2},
			plan: plan(copyAll), cached: []bool{true},
			want: []want{{ReasonUnchanged, "", false}, {ReasonSameKey, "main.sh", false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := tt.afterPlan
			if after == nil {
				after = tt.plan
			}
			got := Explain(BuildInput{Spec: tt.before, Plan: tt.plan}, BuildInput{Spec: tt.after, Plan: after,
				Steps: steps(after, tt.cached...)})
			if len(got) != len(tt.want) {
				t.Fatalf("%d steps, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				s := got[i]
				if s.Reason == nil || s.Reason.Kind != w.kind || !strings.Contains(s.Reason.Text, w.text) || s.FirstMiss != w.first {
					t.Errorf("step %d %q: reason %+v first %v; want %s with %q, first %v",
						i, s.Instruction, s.Reason, s.FirstMiss, w.kind, w.text, w.first)
				}
			}
		})
	}
}

// A stage that copies from a stage that reran says so.
func TestExplainSourceStage(t *testing.T) {
	p := &Plan{Stages: []PlanStage{
		{Name: "build", Base: "busybox", Parent: -1, Line: LineRange{1, 1}, Instructions: []Instruction{
			{Keyword: "COPY", Text: "COPY . .", Sources: []string{"."}, Line: LineRange{2, 2}}}},
		{Name: "stage-1", Base: "busybox", Parent: -1, Line: LineRange{3, 3}, Instructions: []Instruction{
			{Keyword: "COPY", Text: "COPY --from=build /x /x", From: "build", Line: LineRange{4, 4}}}},
	}}
	st := []Step{
		{Stage: "build", Instruction: "COPY . .", Line: &LineRange{2, 2}},
		{Stage: "stage-1", Instruction: "COPY --from=build /x /x", Line: &LineRange{4, 4}},
	}
	got := Explain(BuildInput{Spec: Spec{Files: map[string][]byte{"a": []byte("1")}}, Plan: p},
		BuildInput{Spec: Spec{Files: map[string][]byte{"a": []byte("2")}}, Plan: p, Steps: st})
	if r := got[1].Reason; r == nil || r.Kind != ReasonSourceStage || !strings.Contains(r.Text, "build") {
		t.Errorf("COPY --from reason %+v, want source-stage naming build", r)
	}
	if !got[0].FirstMiss || got[1].FirstMiss {
		t.Errorf("first miss on %v/%v, want the build stage's COPY", got[0].FirstMiss, got[1].FirstMiss)
	}
}

func TestCompare(t *testing.T) {
	size := func(n int64) *ImageReport { return &ImageReport{SizeBytes: n, CompressedBytes: n / 2} }
	variants := []VariantResult{
		{Name: "bad", Builds: []BuildSummary{
			{Phase: PhaseCold, Status: StatusSucceeded, DurationMs: 3000},
			{Phase: PhaseRebuild, Status: StatusSucceeded, DurationMs: 2500, StepsRun: 2, StepsTotal: 4, Image: size(100),
				Steps: []Step{{Stage: "s", Instruction: "COPY . ."}, {Stage: "s", Instruction: "RUN x"}}},
		}},
		{Name: "good", Builds: []BuildSummary{
			{Phase: PhaseCold, Status: StatusSucceeded, DurationMs: 3100},
			{Phase: PhaseRebuild, Status: StatusSucceeded, DurationMs: 300, StepsRun: 1, StepsTotal: 5, Image: size(100),
				Steps: []Step{{Stage: "s", Instruction: "COPY deps ."}, {Stage: "s", Instruction: "RUN x", Cached: true},
					{Stage: "s", Instruction: "COPY . ."}}},
		}},
	}
	cmp := Compare(variants)
	if len(cmp.Columns) != 2 || cmp.Columns[0].Delta != nil {
		t.Fatalf("columns %+v", cmp.Columns)
	}
	d := cmp.Columns[1].Delta
	if d.RebuildMs != -2200 || d.ColdMs != 100 || d.StepsRerun != -1 || d.SizeBytes != 0 {
		t.Errorf("delta %+v", d)
	}
	if hr := cmp.Columns[1].HitRatio; hr != 0.8 {
		t.Errorf("hit ratio %v, want 0.8", hr)
	}
	if !cmp.Columns[0].Complete || !cmp.Columns[1].Complete {
		t.Errorf("columns %+v should both be complete", cmp.Columns)
	}

	// A variant whose rebuild failed has an incomplete column and no delta.
	variants = append(variants, VariantResult{Name: "broken", Builds: []BuildSummary{
		{Phase: PhaseCold, Status: StatusSucceeded, DurationMs: 3000},
		{Phase: PhaseRebuild, Status: StatusFailed, DurationMs: 100, StepsRun: 1, StepsTotal: 4},
	}})
	broken := Compare(variants).Columns[2]
	if broken.Complete || broken.Delta != nil {
		t.Errorf("failed variant's column %+v: want incomplete, no delta", broken)
	}
	// bad: COPY . ., RUN x; good: COPY deps ., RUN x, COPY . . — good's
	// COPY . . comes after RUN x, so it gets a row of its own below.
	var order []string
	for _, r := range cmp.Rows {
		order = append(order, r.Instruction)
	}
	if got := strings.Join(order, " | "); got != "COPY deps . | COPY . . | RUN x | COPY . ." {
		t.Fatalf("rows %s", got)
	}
	for vi := range 2 {
		last := -1
		for i, r := range cmp.Rows {
			if r.Cells[vi] != nil {
				if i < last {
					t.Errorf("column %d reads out of order", vi)
				}
				last = i
			}
		}
	}
	for _, r := range cmp.Rows {
		if r.Instruction == "COPY deps ." && (r.Cells[0] != nil || r.Cells[1] == nil) {
			t.Errorf("COPY deps row %+v should have only the good column", r.Cells)
		}
		if r.Instruction == "RUN x" && (r.Cells[0] == nil || r.Cells[1] == nil || !r.Cells[1].Cached) {
			t.Errorf("RUN x row should align both columns: %+v", r.Cells)
		}
	}
}

// TestCompareAlignsStages lines a single-stage rebuild up with a
// multi-stage one: the same instructions share a row whatever their
// stage is called, and each variant's steps keep their order.
func TestCompareAlignsStages(t *testing.T) {
	rebuild := func(steps ...Step) []BuildSummary {
		return []BuildSummary{{Phase: PhaseRebuild, Steps: steps}}
	}
	step := func(stage, instruction string) Step { return Step{Stage: stage, Instruction: instruction} }
	cmp := Compare([]VariantResult{
		{Name: "single", Builds: rebuild(step("stage-0", "FROM debian"),
			step("stage-0", "WORKDIR /src"), step("stage-0", "COPY . ."), step("stage-0", "RUN make"))},
		{Name: "multi", Builds: rebuild(step("build", "FROM debian AS build"),
			step("build", "WORKDIR /src"), step("build", "COPY . ."), step("build", "RUN make"),
			step("runtime", "FROM busybox AS runtime"), step("runtime", "WORKDIR /src"),
			step("runtime", "COPY --from=build /src/app /app"))},
	})
	var got []string
	for _, r := range cmp.Rows {
		var stages []string
		for _, c := range r.Cells {
			stage := "-"
			if c != nil {
				stage = c.Stage
			}
			stages = append(stages, stage)
		}
		got = append(got, r.Instruction+": "+strings.Join(stages, " "))
	}
	want := []string{
		"FROM debian AS build: - build",
		"FROM debian: stage-0 -",
		"WORKDIR /src: stage-0 build",
		"COPY . .: stage-0 build",
		"RUN make: stage-0 build",
		"FROM busybox AS runtime: - runtime",
		"WORKDIR /src: - runtime",
		"COPY --from=build /src/app /app: - runtime",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
