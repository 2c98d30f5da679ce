package app_test

import (
	"strings"
	"testing"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/internal/labtest"
)

// The cases of shared/cases that the build pipeline alone decides, each with
// the outcome current BuildKit gives.

// Case 1: COPY of everything before the dependency install.
func TestCaseCopyOrder(t *testing.T) {
	c := labtest.NewClient(t)
	tests := []struct {
		name       string
		dockerfile string
		// rerun and cached list the instructions of the rebuild by prefix.
		rerun  []string
		cached []string
	}{
		{
			name:       "bad order",
			dockerfile: "FROM busybox\nWORKDIR /app\nCOPY . .\nRUN sleep 2 && cat deps.txt > /installed\n",
			rerun:      []string{"COPY . .", "RUN sleep 2"},
			cached:     []string{"WORKDIR /app"},
		},
		{
			name: "good order",
			dockerfile: "FROM busybox\nWORKDIR /app\nCOPY deps.txt ./\n" +
				"RUN sleep 2 && cat deps.txt > /installed\nCOPY . .\n",
			rerun:  []string{"COPY . ."},
			cached: []string{"WORKDIR /app", "COPY deps.txt ./", "RUN sleep 2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{
				"Dockerfile": tt.dockerfile,
				"deps.txt":   "left-pad 1.3.0\n",
				// A marker keeps this case's cache apart from the other's.
				"main.sh": "echo v1 # " + tt.name + "\n",
			}
			first := c.Build(t, labtest.Request{Files: files})
			requireStatus(t, first, domain.StatusSucceeded)

			files["main.sh"] = "echo v2 # " + tt.name + "\n"
			second := c.Build(t, labtest.Request{Files: files})
			requireStatus(t, second, domain.StatusSucceeded)
			for _, p := range tt.rerun {
				if s := second.Step(t, "stage-0", p); s.Cached {
					t.Errorf("rebuild: %q was cached; want it rerun", p)
				}
			}
			for _, p := range tt.cached {
				if s := second.Step(t, "stage-0", p); !s.Cached {
					t.Errorf("rebuild: %q reran; want it cached", p)
				}
			}
		})
	}
}

// Case 3: a RUN whose output would differ stays cached.
func TestCaseRunStaysCached(t *testing.T) {
	c := labtest.NewClient(t)
	files := map[string]string{"Dockerfile": "FROM busybox\nRUN date +%s > /stamp\nRUN cat /stamp\n"}
	first := c.Build(t, labtest.Request{Files: files})
	requireStatus(t, first, domain.StatusSucceeded)
	if s := first.Step(t, "stage-0", "RUN date"); s.Cached {
		t.Fatalf("first build: RUN date was cached; the test needs a fresh Dockerfile")
	}

	second := c.Build(t, labtest.Request{Files: files})
	requireStatus(t, second, domain.StatusSucceeded)
	for _, p := range []string{"RUN date", "RUN cat /stamp"} {
		if s := second.Step(t, "stage-0", p); !s.Cached {
			t.Errorf("rebuild: %q reran; only its text and the steps before it decide its cache key", p)
		}
	}
	if first.State.Image == nil || second.State.Image == nil ||
		first.State.Image.Digest == "" || first.State.Image.Digest != second.State.Image.Digest {
		t.Errorf("image digest changed on a fully cached rebuild: %+v then %+v", first.State.Image, second.State.Image)
	}
	if second.Log() != "" {
		t.Errorf("rebuild printed %q; cached steps print nothing", second.Log())
	}
}

// Case 6: stages the target does not need are skipped.
func TestCaseSkippedStages(t *testing.T) {
	c := labtest.NewClient(t)
	files := map[string]string{"Dockerfile": "FROM busybox AS base\nRUN echo base > /base\n" +
		"FROM base AS lint\nRUN echo linting && exit 1\n" +
		"FROM base AS final\nRUN echo ok > /final\n"}

	ok := c.Build(t, labtest.Request{Files: files})
	requireStatus(t, ok, domain.StatusSucceeded)
	for _, s := range ok.State.Steps {
		if s.Stage == "lint" {
			t.Errorf("a lint step ran: %s", s.Instruction)
		}
	}
	want := map[string]bool{"base": false, "lint": true, "final": false}
	for _, st := range ok.State.Stages {
		if st.Skipped != want[st.Name] {
			t.Errorf("stage %s skipped = %v, want %v", st.Name, st.Skipped, want[st.Name])
		}
	}
	// final is built FROM base, so base ships inside it: nothing was kept
	// out, and the sizes come in Dockerfile order.
	if img := ok.State.Image; img == nil || len(img.KeptOut) != 0 || img.SavedBytes != 0 {
		t.Errorf("image report %+v: want nothing kept out", img)
	}
	if len(ok.State.Sizes) != 2 || ok.State.Sizes[0].Name != "base" || ok.State.Sizes[1].Name != "final" {
		t.Errorf("sizes %+v, want base then final", ok.State.Sizes)
	}

	lint := c.Build(t, labtest.Request{Files: files, Target: "lint"})
	requireStatus(t, lint, domain.StatusFailed)
	requireError(t, lint, "step", 4, "exit code: 1")
}

// Case 7: stage names are case-insensitive, mostly.
func TestCaseStageNameCase(t *testing.T) {
	c := labtest.NewClient(t)
	dockerfile := "FROM busybox AS Builder\nRUN echo hi > /hi\nFROM busybox AS app\nCOPY --from=Builder /hi /hi\n"
	for _, target := range []string{"", "Builder", "builder"} {
		t.Run("target "+target, func(t *testing.T) {
			f := c.Build(t, labtest.Request{Files: map[string]string{"Dockerfile": dockerfile}, Target: target})
			requireStatus(t, f, domain.StatusSucceeded)
			requireWarning(t, f, "StageNameCasing", 1)
		})
	}
	t.Run("FROM Builder", func(t *testing.T) {
		f := c.Build(t, labtest.Request{Files: map[string]string{
			"Dockerfile": dockerfile + "FROM Builder AS extra\n"}})
		requireStatus(t, f, domain.StatusFailed)
		requireError(t, f, "", 5, "must be lowercase")
	})
}

// Case 9: an ARG above FROM is empty inside the stage.
func TestCaseGlobalArg(t *testing.T) {
	c := labtest.NewClient(t)
	tests := []struct {
		name, dockerfile, want string
		warn                   bool
	}{
		{
			name: "global only",
			dockerfile: "ARG APP_VERSION=1.2.3\nFROM busybox\nENV VERSION=$APP_VERSION\n" +
				"RUN echo \"v=$VERSION\" > /version\nRUN cat /version\n",
			want: "v=\n",
			warn: true,
		},
		{
			name: "declared again in the stage",
			dockerfile: "ARG APP_VERSION=1.2.3\nFROM busybox\nARG APP_VERSION\nENV VERSION=$APP_VERSION\n" +
				"RUN echo \"v=$VERSION\" > /version\nRUN cat /version\n",
			want: "v=1.2.3\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := c.Build(t, labtest.Request{Files: map[string]string{"Dockerfile": tt.dockerfile}})
			requireStatus(t, f, domain.StatusSucceeded)
			if got := f.Log(); got != tt.want {
				t.Errorf("RUN cat /version printed %q, want %q", got, tt.want)
			}
			if tt.warn {
				requireWarning(t, f, "UndefinedVar", 3)
			}
		})
	}
}

// Case 13: a heredoc RUN does not stop at a failing line.
func TestCaseHeredoc(t *testing.T) {
	c := labtest.NewClient(t)
	plain := c.Build(t, labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM busybox\nRUN <<EOF\necho start\nfalse\necho end\nEOF\n"}})
	requireStatus(t, plain, domain.StatusSucceeded)
	if log := plain.Log(); !strings.Contains(log, "start") || !strings.Contains(log, "end") {
		t.Errorf("log %q should show start and end", log)
	}

	strict := c.Build(t, labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM busybox\nRUN <<EOF\nset -e\necho start\nfalse\necho end\nEOF\n"}})
	requireStatus(t, strict, domain.StatusFailed)
	requireError(t, strict, "step", 2, "exit code: 1")
}

// Case 17: parser directives only count at the very top.
func TestCaseDirectiveAfterBlankLine(t *testing.T) {
	c := labtest.NewClient(t)
	f := c.Build(t, labtest.Request{Files: map[string]string{
		"Dockerfile": "\n# escape=`\nFROM busybox\nRUN echo one `\n  two\n"}})
	requireStatus(t, f, domain.StatusFailed)
	requireError(t, f, "dockerfile", 5, "line 5")

	long := c.Build(t, labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo " + strings.Repeat("x", 65536) + "\n"}})
	requireStatus(t, long, domain.StatusFailed)
	requireError(t, long, "dockerfile", 0, "max allowed size of 65535")
}

func requireStatus(t *testing.T, f labtest.Finished, want domain.Status) {
	t.Helper()
	if f.State.Status != want {
		msg := ""
		if f.State.Error != nil {
			msg = f.State.Error.Message
		}
		t.Fatalf("build %s: status %s, want %s (error %q)%s", f.ID, f.State.Status, want, msg, f.StepList())
	}
	var results []domain.Event
	for _, e := range f.Events {
		if e.Type == domain.EventResult {
			results = append(results, e)
		}
	}
	if len(results) != 1 || results[0].Result.Status != want {
		t.Fatalf("build %s: %d result events, want one with status %s", f.ID, len(results), want)
	}
	last := f.Events[len(f.Events)-1].Type
	if want == domain.StatusFailed && last != domain.EventResult ||
		want == domain.StatusSucceeded && last != domain.EventImage {
		t.Fatalf("build %s: the stream ends with %s", f.ID, last)
	}
}

// requireError checks the error's kind (when given), the line it points at
// (when not 0) and a part of its message.
func requireError(t *testing.T, f labtest.Finished, kind string, line int, text string) {
	t.Helper()
	e := f.State.Error
	switch {
	case e == nil:
		t.Fatalf("build %s has no error", f.ID)
	case kind != "" && e.Kind != kind:
		t.Errorf("error kind %q, want %q (%s)", e.Kind, kind, e.Message)
	case line != 0 && (e.Line == nil || e.Line.Start != line):
		t.Errorf("error line %v, want %d (%s)", e.Line, line, e.Message)
	case !strings.Contains(e.Message, text):
		t.Errorf("error %q should contain %q", e.Message, text)
	}
}

func requireWarning(t *testing.T, f labtest.Finished, rule string, line int) {
	t.Helper()
	for _, w := range f.State.Warnings {
		if w.Rule == rule && w.Line != nil && w.Line.Start == line {
			return
		}
	}
	t.Errorf("no %s warning on line %d; warnings: %+v", rule, line, f.State.Warnings)
}

// Case 10: deleting a file in a later step does not shrink the image.
func TestCaseDeleteInLaterStep(t *testing.T) {
	c := labtest.NewClient(t)
	const mb = 1_000_000
	build := func(dockerfile string) labtest.Finished {
		f := c.Build(t, labtest.Request{Files: map[string]string{"Dockerfile": dockerfile}})
		requireStatus(t, f, domain.StatusSucceeded)
		if f.State.Image == nil {
			t.Fatalf("build %s has no image report", f.ID)
		}
		return f
	}
	a := build("FROM busybox\nRUN head -c 100000000 /dev/urandom > /big\nRUN rm /big\n")
	b := build("FROM busybox\nRUN head -c 100000000 /dev/urandom > /big && rm /big\n")
	cc := build("FROM busybox AS build\nRUN head -c 100000000 /dev/urandom > /big && echo small > /small\n" +
		"FROM busybox\nCOPY --from=build /small /small\n")

	base := a.State.Sizes[0].Rows[0].SizeBytes
	bigRun := a.Step(t, "stage-0", "RUN head")
	rmRun := a.Step(t, "stage-0", "RUN rm")
	within(t, "A: first RUN layer", *bigRun.SizeBytes, 100*mb, mb)
	within(t, "A: rm layer", *rmRun.SizeBytes, 0, 1000)
	within(t, "A: compressed first RUN layer", *bigRun.CompressedBytes, 100*mb, 2*mb)
	within(t, "A: image", a.State.Image.SizeBytes, base+100*mb, mb)
	within(t, "A: wasted", a.State.Image.WastedBytes, 100*mb, mb)
	within(t, "B: image", b.State.Image.SizeBytes, base, 1000)
	within(t, "C: image", cc.State.Image.SizeBytes, base, 1000)
	if len(cc.State.Image.KeptOut) != 1 || cc.State.Image.KeptOut[0].Name != "build" {
		t.Fatalf("C: kept out %+v, want the build stage", cc.State.Image.KeptOut)
	}
	within(t, "C: build stage kept out", cc.State.Image.KeptOut[0].SizeBytes, base+100*mb, mb)
	within(t, "C: saved", cc.State.Image.SavedBytes, 100*mb, mb)
}

func within(t *testing.T, what string, got, want, tolerance int64) {
	t.Helper()
	if got < want-tolerance || got > want+tolerance {
		t.Errorf("%s: %d bytes, want %d ± %d", what, got, want, tolerance)
	}
}
