package app_test

import (
	"strings"
	"testing"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/internal/labtest"
)

// Case 1 as a scenario: bad against good COPY order, main.sh changed.
func TestRunCopyOrder(t *testing.T) {
	c := labtest.NewClient(t)
	files := func(dockerfile string) map[string]string {
		return map[string]string{"Dockerfile": dockerfile, "deps.txt": "left-pad 1.3.0\n", "main.sh": "echo v1\n"}
	}
	v2 := "echo v2\n"
	events, state := c.Run(t, labtest.RunRequest{
		Variants: []labtest.Variant{
			{Name: "bad", Request: labtest.Request{Files: files(
				"FROM busybox\nWORKDIR /app\nCOPY . .\nRUN sleep 2 && cat deps.txt > /installed\n")}},
			{Name: "good", Request: labtest.Request{Files: files(
				"FROM busybox\nWORKDIR /app\nCOPY deps.txt ./\nRUN sleep 2 && cat deps.txt > /installed\nCOPY . .\n")}},
		},
		Scenario: labtest.Scenario{Changes: []domain.Change{{Path: "main.sh", Content: &v2}}},
	})
	requireRun(t, events, state, 2)

	bad, good := rebuildSteps(t, state, "bad"), rebuildSteps(t, state, "good")
	tests := []struct {
		name      string
		steps     []domain.Step
		prefix    string
		cached    bool
		kind      string
		text      string
		firstMiss bool
	}{
		{"bad: COPY . . reruns", bad, "COPY . .", false, domain.ReasonFiles, "main.sh", true},
		{"bad: RUN reruns after it", bad, "RUN sleep 2", false, domain.ReasonEarlierStep, "COPY . . (line 3)", false},
		{"bad: WORKDIR cached", bad, "WORKDIR", true, domain.ReasonUnchanged, "nothing it depends on changed", false},
		{"good: COPY deps.txt cached", good, "COPY deps.txt", true, domain.ReasonUnchanged, "", false},
		{"good: RUN cached", good, "RUN sleep 2", true, domain.ReasonUnchanged, "command text", false},
		{"good: last COPY reruns", good, "COPY . .", false, domain.ReasonFiles, "main.sh", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireReason(t, find(t, tt.steps, tt.prefix), tt.cached, tt.kind, tt.text, tt.firstMiss)
		})
	}

	cols := state.Comparison.Columns
	if len(cols) != 2 || cols[0].StepsRerun <= cols[1].StepsRerun || cols[0].RebuildMs < cols[1].RebuildMs+1500 {
		t.Errorf("columns %+v: the bad order should rerun more steps and lose about 2 s", cols)
	}
	if cols[1].Delta == nil || cols[1].Delta.RebuildMs > -1500 {
		t.Errorf("good column's delta %+v should show about 2 s saved", cols[1].Delta)
	}
}

// Case 2: a build arg declared early reruns every RUN after it.
func TestRunBuildArgChange(t *testing.T) {
	c := labtest.NewClient(t)
	early := "FROM busybox\nARG RELEASE\nCOPY notes.txt /notes.txt\nRUN echo one > /one\n" +
		"RUN echo \"release=$RELEASE\" > /release\nRUN echo three > /three\n"
	late := "FROM busybox\nCOPY notes.txt /notes.txt\nRUN echo one > /one\nARG RELEASE\n" +
		"RUN echo \"release=$RELEASE\" > /release\nRUN echo three > /three\n"
	files := func(df string) map[string]string { return map[string]string{"Dockerfile": df, "notes.txt": "notes\n"} }
	events, state := c.Run(t, labtest.RunRequest{
		Variants: []labtest.Variant{
			{Name: "early", Request: labtest.Request{Files: files(early), BuildArgs: map[string]string{"RELEASE": "1"}}},
			{Name: "late", Request: labtest.Request{Files: files(late), BuildArgs: map[string]string{"RELEASE": "1"}}},
		},
		Scenario: labtest.Scenario{Changes: []domain.Change{{BuildArgs: map[string]string{"RELEASE": "2"}}}},
	})
	requireRun(t, events, state, 2)

	e, l := rebuildSteps(t, state, "early"), rebuildSteps(t, state, "late")
	requireReason(t, find(t, e, "COPY notes.txt"), true, domain.ReasonUnchanged, "", false)
	for _, p := range []string{"RUN echo one", "RUN echo \"release", "RUN echo three"} {
		requireReason(t, find(t, e, p), false, domain.ReasonBuildArg, "RELEASE", p == "RUN echo one")
	}
	requireReason(t, find(t, l, "RUN echo one"), true, domain.ReasonUnchanged, "", false)
	requireReason(t, find(t, l, "RUN echo \"release"), false, domain.ReasonBuildArg, "RELEASE", true)
}

// Case 3: a RUN whose output would differ stays cached, and the reason
// says why.
func TestRunNothingChanged(t *testing.T) {
	c := labtest.NewClient(t)
	events, state := c.Run(t, labtest.RunRequest{Variants: []labtest.Variant{{Name: "stamp",
		Request: labtest.Request{Files: map[string]string{"Dockerfile": "FROM busybox\nRUN date +%s > /stamp\nRUN cat /stamp\n"}}}}})
	requireRun(t, events, state, 1)
	steps := rebuildSteps(t, state, "stamp")
	requireReason(t, find(t, steps, "RUN date"), true, domain.ReasonUnchanged, "could give another result", false)
	requireReason(t, find(t, steps, "RUN cat"), true, domain.ReasonUnchanged, "command text", false)
	v := state.Variants[0]
	if v.Builds[0].Image != nil || v.Builds[1].Image == nil {
		t.Errorf("images %v then %v: only the rebuild's image is measured", v.Builds[0].Image, v.Builds[1].Image)
	}
	if v.Builds[0].StepsRun != v.Builds[0].StepsTotal {
		t.Errorf("cold build ran %d of %d steps; a cold build reuses nothing", v.Builds[0].StepsRun, v.Builds[0].StepsTotal)
	}
}

func requireRun(t *testing.T, events []domain.Event, state domain.RunState, variants int) {
	t.Helper()
	if state.Status != domain.StatusSucceeded {
		t.Fatalf("run %s: %s (%+v)", state.ID, state.Status, state.Error)
	}
	last := events[len(events)-1]
	if last.Type != domain.EventResult || last.Run != nil {
		t.Fatalf("run stream ends with %s, want the run's result", last.Type)
	}
	if len(state.Variants) != variants || state.Comparison == nil || len(state.Comparison.Columns) != variants {
		t.Fatalf("run %s: %d variants, comparison %+v", state.ID, len(state.Variants), state.Comparison)
	}
	for _, v := range state.Variants {
		if len(v.Builds) != 2 || v.Builds[0].Phase != domain.PhaseCold || v.Builds[1].Phase != domain.PhaseRebuild {
			t.Fatalf("variant %s builds %+v, want cold then rebuild", v.Name, v.Builds)
		}
	}
}

func rebuildSteps(t *testing.T, state domain.RunState, variant string) []domain.Step {
	t.Helper()
	for _, v := range state.Variants {
		if v.Name == variant {
			return v.Builds[1].Steps
		}
	}
	t.Fatalf("no variant %s", variant)
	return nil
}

func find(t *testing.T, steps []domain.Step, prefix string) domain.Step {
	t.Helper()
	for _, s := range steps {
		if strings.HasPrefix(s.Instruction, prefix) {
			return s
		}
	}
	t.Fatalf("no step %q", prefix)
	return domain.Step{}
}

func requireReason(t *testing.T, s domain.Step, cached bool, kind, text string, firstMiss bool) {
	t.Helper()
	switch {
	case s.Cached != cached:
		t.Errorf("%s: cached %v, want %v (reason %+v)", s.Instruction, s.Cached, cached, s.Reason)
	case s.Reason == nil || s.Reason.Kind != kind || !strings.Contains(s.Reason.Text, text):
		t.Errorf("%s: reason %+v, want kind %s mentioning %q", s.Instruction, s.Reason, kind, text)
	case s.FirstMiss != firstMiss:
		t.Errorf("%s: first miss %v, want %v", s.Instruction, s.FirstMiss, firstMiss)
	}
}
