package static_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/e2e/browser"
	"github.com/layerlab/layerlab/handlers"
)

// These tests run lab.js in Chromium against the real handlers and runner,
// with a scripted worker in place of BuildKit, so that every kind of event
// (warnings, failures, skipped stages, a dropped socket) arrives exactly
// when the test wants it. The end-to-end test in e2e/ builds on a real
// worker.

// scriptedWorker plays a build script and records what it was asked to
// build.
type scriptedWorker struct {
	script func(ctx context.Context, emit func(domain.Event)) error

	mu    sync.Mutex
	ids   []string
	specs []domain.Spec
}

func (w *scriptedWorker) Build(ctx context.Context, id string, spec domain.Spec,
	emit func(domain.Event)) error {
	w.mu.Lock()
	w.ids = append(w.ids, id)
	w.specs = append(w.specs, spec)
	w.mu.Unlock()
	return w.script(ctx, emit)
}

func (w *scriptedWorker) last(t *testing.T) (string, domain.Spec) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ids) == 0 {
		t.Fatal("the worker was asked for no build")
	}
	return w.ids[len(w.ids)-1], w.specs[len(w.specs)-1]
}

type labServer struct {
	url    string
	runner *domain.Runner
}

// startLab serves layerlab's handlers with a scripted worker on loopback.
func startLab(t *testing.T, w domain.Worker) labServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := domain.NewRunner(w, domain.RunnerConfig{}, log)
	e, srv := handlers.New(handlers.Deps{
		Runner: runner,
		Health: func(context.Context) domain.WorkerHealth { return domain.WorkerHealth{Ready: true} },
		Log:    log,
	})
	ts := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
		runner.Close()
	})
	return labServer{url: ts.URL, runner: runner}
}

func step(id, stage string, index, total int, instr string, line int, state domain.StepState) *domain.Step {
	s := &domain.Step{ID: id, Stage: stage, Index: index, Total: total, Instruction: instr,
		State: state, Cached: state == domain.StepCached}
	if line > 0 {
		s.Line = &domain.LineRange{Start: line, End: line}
	}
	if state == domain.StepDone || state == domain.StepFailed {
		s.DurationMs = 1234
	}
	return s
}

func stepEvent(typ domain.EventType, s *domain.Step) domain.Event {
	return domain.Event{Type: typ, Step: s}
}

func logEvent(stepID, data string) domain.Event {
	return domain.Event{Type: domain.EventLogChunk,
		Log: &domain.LogChunk{StepID: stepID, Stream: "stdout", Data: data}}
}

var threeStages = []domain.Stage{
	{Name: "build", Index: 0, Base: "debian:bookworm-slim", Line: domain.LineRange{Start: 1, End: 1}},
	{Name: "lint", Index: 1, Base: "build", Line: domain.LineRange{Start: 4, End: 4}},
	{Name: "runtime", Index: 2, Base: "busybox", Line: domain.LineRange{Start: 6, End: 6}},
}

// successScript builds two stages of three, with a cached step, a log and a
// warning, and marks the stage the target did not need as skipped.
func successScript(_ context.Context, emit func(domain.Event)) error {
	emit(domain.Event{Type: domain.EventStages, Stages: threeStages})
	internal := &domain.Step{ID: "ctx", Instruction: "[internal] load build context",
		Internal: true, State: domain.StepDone}
	emit(stepEvent(domain.EventStepCompleted, internal))
	emit(domain.Event{Type: domain.EventWarning, Warning: &domain.Warning{
		Rule: "StageNameCasing", Message: "Stage name 'Build' should be lowercase",
		Line: &domain.LineRange{Start: 1, End: 1}}})
	emit(stepEvent(domain.EventStepCached, step("s1", "build", 1, 2, "FROM debian:bookworm-slim", 1, domain.StepCached)))
	emit(stepEvent(domain.EventStepStarted, step("s2", "build", 2, 2, "RUN make", 2, domain.StepRunning)))
	emit(logEvent("s2", "compiling\n"))
	emit(logEvent("s2", "linked greet\n"))
	emit(stepEvent(domain.EventStepCompleted, step("s2", "build", 2, 2, "RUN make", 2, domain.StepDone)))
	emit(stepEvent(domain.EventStepCompleted, step("s3", "runtime", 2, 2, "COPY --from=build /greet /", 7, domain.StepDone)))
	emit(stepEvent(domain.EventStepCached, step("s4", "runtime", 1, 2, "FROM busybox", 6, domain.StepCached)))
	emit(domain.Event{Type: domain.EventProgress, Progress: &domain.Progress{Done: 4, Total: 4}})
	done := slices.Clone(threeStages)
	done[1].Skipped = true
	emit(domain.Event{Type: domain.EventStages, Stages: done})
	return nil
}

func openLab(t *testing.T, b *browser.Browser, url string) {
	t.Helper()
	b.Do(t, 20*time.Second,
		chromedp.Navigate(url),
		chromedp.WaitVisible(browser.ByTestID("build-button")),
	)
}

func TestLabShowsBuild(t *testing.T) {
	lab := startLab(t, &scriptedWorker{script: successScript})
	b := browser.Start(t)
	openLab(t, b, lab.url+"/lab?example=multi-stage&variant=multi-stage")

	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("build-button")))
	b.WaitFor(t, 10*time.Second, "the build to succeed",
		`document.querySelector('[data-testid="build-status"]').dataset.status === 'succeeded'`)
	b.Screenshot(t, "lab-stub-success")

	type stageView struct {
		Name    string
		Skipped bool
		Steps   []string
	}
	stages := browser.Eval[[]stageView](t, b, `
		Array.from(document.querySelectorAll('[data-testid="stage"]')).map((s) => ({
			name: s.querySelector('[data-testid="stage-name"]').textContent,
			skipped: !s.querySelector('[data-testid="stage-skipped"]').hidden,
			steps: Array.from(s.querySelectorAll('[data-testid="step"]')).map((li) =>
				li.querySelector('[data-testid="step-index"]').textContent + ' ' +
				li.dataset.state +
				(li.querySelector('[data-testid="step-cached"]').hidden ? '' : ' CACHED')),
		}))`)
	want := []stageView{
		{Name: "Preparing the build", Steps: []string{" done"}},
		{Name: "build", Steps: []string{"1/2 cached CACHED", "2/2 done"}},
		{Name: "lint", Skipped: true, Steps: []string{}},
		{Name: "runtime", Steps: []string{"1/2 cached CACHED", "2/2 done"}},
	}
	if fmt.Sprint(stages) != fmt.Sprint(want) {
		t.Errorf("stages on the page:\n got %+v\nwant %+v", stages, want)
	}

	checks := []struct {
		name, expr, want string
	}{
		{"step log", `document.querySelector('[data-step-id="s2"] [data-testid="step-log"]').textContent`,
			"compiling\nlinked greet\n"},
		{"step duration", `document.querySelector('[data-step-id="s2"] [data-testid="step-duration"]').textContent`,
			"1.2 s"},
		{"warning", `document.querySelector('[data-testid="warning"]').textContent.replace(/\s+/g, ' ').trim()`,
			"StageNameCasing Stage name 'Build' should be lowercase line 1"},
		{"progress", `document.querySelector('[data-testid="build-progress-text"]').textContent`,
			"4 / 4 steps"},
		{"warning mark in the gutter", `document.querySelector('[data-testid="editor-gutter"]').children[0].className`,
			"gutter-line is-warning"},
		{"error box", `String(document.querySelector('[data-testid="build-error"]').hidden)`, "true"},
	}
	for _, c := range checks {
		if got := browser.Eval[string](t, b, c.expr); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	b.CheckNoErrors(t)
}

func TestLabMarksFailedLine(t *testing.T) {
	failing := func(_ context.Context, emit func(domain.Event)) error {
		emit(domain.Event{Type: domain.EventStages, Stages: threeStages[:1]})
		emit(stepEvent(domain.EventStepCompleted, step("s1", "build", 1, 2, "FROM debian:bookworm-slim", 2, domain.StepDone)))
		failed := step("s2", "build", 2, 2, "RUN sh build.sh", 5, domain.StepFailed)
		failed.Error = "process \"/bin/sh -c sh build.sh\" did not complete successfully: exit code: 2"
		emit(logEvent("s2", "build.sh: line 3: syntax error\n"))
		emit(stepEvent(domain.EventStepFailed, failed))
		return &domain.BuildError{Kind: "step", Message: failed.Error, StepID: "s2",
			Line: &domain.LineRange{Start: 5, End: 5}}
	}
	lab := startLab(t, &scriptedWorker{script: failing})
	b := browser.Start(t)
	openLab(t, b, lab.url+"/lab?example=multi-stage&variant=multi-stage")

	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("build-button")))
	b.WaitFor(t, 10*time.Second, "the build to fail",
		`document.querySelector('[data-testid="build-status"]').dataset.status === 'failed'`)
	b.Screenshot(t, "lab-stub-failure")

	checks := []struct {
		name, expr, want string
	}{
		{"error message", `document.querySelector('[data-testid="build-error-message"]').textContent`,
			"Process \"/bin/sh -c sh build.sh\" did not complete successfully: exit code: 2"},
		{"error line link", `document.querySelector('[data-testid="build-error-line"]').textContent`,
			"Show Dockerfile line 5"},
		{"error mark in the gutter", `document.querySelector('[data-testid="editor-gutter"]').children[4].className`,
			"gutter-line is-error"},
		{"marked lines", `Array.from(document.querySelectorAll('.gutter-line.is-error')).map((d) => d.textContent).join()`,
			"5"},
		{"failed step open", `String(document.querySelector('[data-step-id="s2"] details').open)`, "true"},
		{"step error", `document.querySelector('[data-step-id="s2"] [data-testid="step-error"]').textContent`,
			"process \"/bin/sh -c sh build.sh\" did not complete successfully: exit code: 2"},
		{"build button", `String(document.querySelector('[data-testid="build-button"]').disabled)`, "false"},
	}
	for _, c := range checks {
		if got := browser.Eval[string](t, b, c.expr); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	b.CheckNoErrors(t)
}

// TestLabReconnects drops the socket in the middle of a build: the page must
// come back asking for what it has not seen, and show every event once.
func TestLabReconnects(t *testing.T) {
	dropped := make(chan struct{})
	halves := func(ctx context.Context, emit func(domain.Event)) error {
		emit(domain.Event{Type: domain.EventStages, Stages: threeStages[:1]})
		emit(stepEvent(domain.EventStepStarted, step("s1", "build", 1, 1, "RUN ./long", 2, domain.StepRunning)))
		emit(logEvent("s1", "first half\n"))
		select {
		case <-dropped:
		case <-ctx.Done():
			return ctx.Err()
		}
		emit(logEvent("s1", "second half\n"))
		emit(stepEvent(domain.EventStepCompleted, step("s1", "build", 1, 1, "RUN ./long", 2, domain.StepDone)))
		emit(domain.Event{Type: domain.EventProgress, Progress: &domain.Progress{Done: 1, Total: 1}})
		return nil
	}
	w := &scriptedWorker{script: halves}
	lab := startLab(t, w)
	b := browser.Start(t)
	openLab(t, b, lab.url+"/lab")

	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("build-button")))
	b.WaitFor(t, 10*time.Second, "the first half of the log",
		`(document.querySelector('[data-step-id="s1"] [data-testid="step-log"]') || {}).textContent === 'first half\n'`)
	browser.Eval[bool](t, b, `(window.layerlab.dropConnection(), true)`)
	b.WaitFor(t, 10*time.Second, "a second connection", `window.layerlab.stats().connects >= 2`)
	close(dropped)
	b.WaitFor(t, 10*time.Second, "the build to succeed",
		`document.querySelector('[data-testid="build-status"]').dataset.status === 'succeeded'`)

	id, _ := w.last(t)
	build, ok := lab.runner.Get(id)
	if !ok {
		t.Fatalf("runner has no build %s", id)
	}
	type stats struct {
		Events, Repeats, Connects, LastSeq int
	}
	got := browser.Eval[stats](t, b, `window.layerlab.stats()`)
	n := build.Events.Len()
	if got.Events != n || got.LastSeq != n || got.Repeats != 0 {
		t.Errorf("page stats %+v; want %d events, last seq %d, no repeats", got, n, n)
	}
	log := browser.Eval[string](t, b, `document.querySelector('[data-step-id="s1"] [data-testid="step-log"]').textContent`)
	if log != "first half\nsecond half\n" {
		t.Errorf("step log %q; want each half once", log)
	}
	if steps := browser.Eval[int](t, b, `document.querySelectorAll('[data-testid="step"]').length`); steps != 1 {
		t.Errorf("%d steps on the page; want 1", steps)
	}
	b.CheckNoErrors(t)
}

// TestLabSendsEdits checks that what the person edits is what gets built:
// files added, renamed and deleted, the target and the build args.
func TestLabSendsEdits(t *testing.T) {
	w := &scriptedWorker{script: func(context.Context, func(domain.Event)) error { return nil }}
	lab := startLab(t, w)
	b := browser.Start(t)
	openLab(t, b, lab.url+"/lab?example=copy-order&variant=deps-first")

	b.Do(t, 20*time.Second,
		// Add a file and type into it.
		chromedp.SendKeys(browser.ByTestID("file-add-input"), "notes/todo.txt"),
		chromedp.Click(browser.ByTestID("file-add")),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="notes/todo.txt"]`)),
		chromedp.SendKeys(browser.ByTestID("editor"), "ship it\n"),
		// Rename deps.lock.
		chromedp.Click(chromedp.CSS(`[data-path="deps.lock"] [data-testid="file-rename"]`)),
		chromedp.SetValue(chromedp.CSS(`[data-path="deps.lock"] [data-testid="file-rename-input"]`), "deps.txt"),
		chromedp.Click(chromedp.CSS(`[data-path="deps.lock"] [data-testid="file-rename-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="deps.txt"]`)),
		// Delete the app.
		chromedp.Click(chromedp.CSS(`[data-path="app/main.sh"] [data-testid="file-delete"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-path="app/main.sh"]`)),
		// Set a target and a build arg.
		chromedp.SendKeys(browser.ByTestID("target-input"), "final"),
		chromedp.Click(browser.ByTestID("arg-add")),
		chromedp.SendKeys(browser.ByTestID("arg-name"), "RELEASE"),
		chromedp.SendKeys(browser.ByTestID("arg-value"), "2"),
		chromedp.Click(browser.ByTestID("build-button")),
	)
	b.WaitFor(t, 10*time.Second, "the build to end",
		`document.querySelector('[data-testid="build-status"]').dataset.status === 'succeeded'`)

	_, spec := w.last(t)
	var names []string
	for name := range spec.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	if got, want := fmt.Sprint(names), "[Dockerfile deps.txt notes/todo.txt]"; got != want {
		t.Errorf("files built %s; want %s", got, want)
	}
	if got := string(spec.Files["notes/todo.txt"]); got != "ship it\n" {
		t.Errorf("notes/todo.txt built as %q", got)
	}
	if spec.Target != "final" || spec.BuildArgs["RELEASE"] != "2" || spec.Dockerfile != "Dockerfile" {
		t.Errorf("spec target %q, args %v, dockerfile %q", spec.Target, spec.BuildArgs, spec.Dockerfile)
	}
	b.CheckNoErrors(t)
}

// TestLabShowsRefusal empties the Dockerfile: the server refuses the build
// with 400 and the page shows why.
func TestLabShowsRefusal(t *testing.T) {
	lab := startLab(t, &scriptedWorker{script: successScript})
	b := browser.Start(t)
	openLab(t, b, lab.url+"/lab")

	browser.Eval[bool](t, b, `(() => {
		const ed = document.querySelector('[data-testid="editor"]');
		ed.value = '  \n';
		ed.dispatchEvent(new Event('input'));
		return true;
	})()`)
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("build-button")))
	b.WaitFor(t, 10*time.Second, "the refusal",
		`document.querySelector('[data-testid="build-status"]').dataset.status === 'failed'`)
	got := browser.Eval[string](t, b,
		`document.querySelector('[data-testid="build-error"]').innerText.replace(/\s+/g, ' ').trim()`)
	want := `The server refused the build The Dockerfile "Dockerfile" is empty`
	if got != want {
		t.Errorf("error box %q; want %q", got, want)
	}
	b.CheckNoErrors(t)
}

// TestLabAppliesScenario presses the example's "make the change" button.
func TestLabAppliesScenario(t *testing.T) {
	lab := startLab(t, &scriptedWorker{script: successScript})
	b := browser.Start(t)
	openLab(t, b, lab.url+"/lab?example=copy-order")

	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("scenario-apply")))
	got := browser.Eval[[]string](t, b, `[
		document.querySelector('[data-testid="editor-path"]').textContent,
		document.querySelector('[data-testid="editor"]').value.split('\n')[1],
		document.querySelector('[data-testid="scenario-done"]').textContent,
	]`)
	want := []string{"app/main.sh", `echo "tally v2"`,
		"Changed app/main.sh. Build again and compare the steps."}
	if !slices.Equal(got, want) {
		t.Errorf("after the change: got %q, want %q", got, want)
	}
	b.CheckNoErrors(t)
}
