package static_test

import (
	"context"
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
// when the test wants it. The end-to-end tests in e2e/ build on a real
// worker.

// scriptedWorker plays a build script and records what it was asked to
// build.
type scriptedWorker struct {
	script func(ctx context.Context, e emitter) error

	mu    sync.Mutex
	specs []domain.Spec
}

func (w *scriptedWorker) Build(ctx context.Context, _ string, spec domain.Spec,
	emit func(domain.Event)) error {
	w.mu.Lock()
	w.specs = append(w.specs, spec)
	w.mu.Unlock()
	return w.script(ctx, emitter(emit))
}

func (w *scriptedWorker) lastSpec(t *testing.T) domain.Spec {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.specs) == 0 {
		t.Fatal("the worker was asked for no build")
	}
	return w.specs[len(w.specs)-1]
}

// emitter writes the events of a scripted build.
type emitter func(domain.Event)

func (e emitter) stages(stages ...domain.Stage) {
	e(domain.Event{Type: domain.EventStages, Stages: stages})
}

func (e emitter) step(typ domain.EventType, s domain.Step, state domain.StepState) {
	s.State = state
	s.Cached = state == domain.StepCached
	if state == domain.StepDone || state == domain.StepFailed {
		s.DurationMs = 1234
	}
	e(domain.Event{Type: typ, Step: &s})
}

func (e emitter) started(s domain.Step) { e.step(domain.EventStepStarted, s, domain.StepRunning) }
func (e emitter) done(s domain.Step)    { e.step(domain.EventStepCompleted, s, domain.StepDone) }
func (e emitter) cached(s domain.Step)  { e.step(domain.EventStepCached, s, domain.StepCached) }

func (e emitter) failed(s domain.Step, msg string) {
	s.Error = msg
	e.step(domain.EventStepFailed, s, domain.StepFailed)
}

func (e emitter) log(s domain.Step, data string) {
	e(domain.Event{Type: domain.EventLogChunk,
		Log: &domain.LogChunk{StepID: s.ID, Stream: "stdout", Data: data}})
}

func (e emitter) progress(done, total int) {
	e(domain.Event{Type: domain.EventProgress,
		Progress: &domain.Progress{Done: done, Total: total}})
}

func lines(start int) *domain.LineRange { return &domain.LineRange{Start: start, End: start} }

var (
	buildStage   = domain.Stage{Name: "build", Index: 0, Base: "debian:bookworm-slim"}
	lintStage    = domain.Stage{Name: "lint", Index: 1, Base: "build"}
	runtimeStage = domain.Stage{Name: "runtime", Index: 2, Base: "busybox"}

	loadContext = domain.Step{ID: "ctx", Instruction: "load build context", Internal: true}
	fromDebian  = domain.Step{ID: "s1", Stage: "build", Index: 1, Total: 2,
		Instruction: "FROM debian:bookworm-slim", Line: lines(1)}
	runMake = domain.Step{ID: "s2", Stage: "build", Index: 2, Total: 2,
		Instruction: "RUN make", Line: lines(2)}
	fromBusybox = domain.Step{ID: "s3", Stage: "runtime", Index: 1, Total: 2,
		Instruction: "FROM busybox", Line: lines(6)}
	copyGreet = domain.Step{ID: "s4", Stage: "runtime", Index: 2, Total: 2,
		Instruction: "COPY --from=build /greet /", Line: lines(7)}
)

// successScript builds two stages of three, with a cached step, a log and a
// warning, announcing a later step before an earlier one as BuildKit may,
// and marks the stage the target did not need as skipped.
func successScript(_ context.Context, e emitter) error {
	e.stages(buildStage, lintStage, runtimeStage)
	e.done(loadContext)
	e(domain.Event{Type: domain.EventWarning, Warning: &domain.Warning{Rule: "StageNameCasing",
		Message: "Stage name 'Build' should be lowercase", Line: lines(1)}})
	e.cached(fromDebian)
	e.started(runMake)
	e.log(runMake, "compiling\n")
	e.log(runMake, "linked greet\n")
	e.done(runMake)
	e.done(copyGreet)
	e.cached(fromBusybox)
	e.progress(4, 4)
	skipped := lintStage
	skipped.Skipped = true
	e.stages(buildStage, skipped, runtimeStage)
	return nil
}

// startLab serves layerlab's handlers on loopback with a scripted worker
// and returns the server's runner and a browser on the given lab page.
func startLab(t *testing.T, w domain.Worker, query string) (*domain.Runner, *browser.Browser) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := domain.NewRunner(w, domain.RunnerConfig{}, log)
	e, srv := handlers.New(handlers.Deps{
		Runner: runner,
		Health: func(context.Context) domain.WorkerHealth {
			return domain.WorkerHealth{Ready: true}
		},
		Log: log,
	})
	ts := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
		runner.Close()
	})

	b := browser.Start(t)
	b.Do(t, 20*time.Second,
		chromedp.Navigate(ts.URL+"/lab"+query),
		chromedp.WaitVisible(browser.ByTestID("build-button")),
	)
	return runner, b
}

// Short names for the selectors and expressions of check's tables.
var (
	text = browser.Text
	prop = browser.Prop
	tid  = browser.TestID
)

// check compares script expressions with the strings they should give.
func check(t *testing.T, b *browser.Browser, checks map[string]string) {
	t.Helper()
	for expr, want := range checks {
		if got := browser.Eval[string](t, b, expr); got != want {
			t.Errorf("%s = %q, want %q", expr, got, want)
		}
	}
}

func TestLabShowsBuild(t *testing.T) {
	_, b := startLab(t, &scriptedWorker{script: successScript},
		"?example=multi-stage&variant=multi-stage")
	if got := b.Build(t, 10*time.Second); got != "succeeded" {
		t.Fatalf("build %s", got)
	}
	b.Screenshot(t, "lab-stub-success")

	type stepLine struct{ Stage, Index, State, Duration, Log string }
	var got []stepLine
	for _, s := range b.Steps(t) {
		if s.Cached {
			s.State += " CACHED"
		}
		got = append(got, stepLine{s.Stage, s.Index, s.State, s.Duration, s.Log})
	}
	want := []stepLine{
		{"", "", "done", "1.2 s", ""},
		{"build", "1/2", "cached CACHED", "", ""},
		{"build", "2/2", "done", "1.2 s", "compiling\nlinked greet\n"},
		{"runtime", "1/2", "cached CACHED", "", ""},
		{"runtime", "2/2", "done", "1.2 s", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps on the page:\n got %+v\nwant %+v", got, want)
	}

	stages := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll('`+
		browser.TestID("stage")+`')).map((s) =>
			s.querySelector('header').innerText.replace(/\s+/g, ' ').trim())`)
	wantStages := []string{"Preparing the build", "build FROM debian:bookworm-slim",
		"lint FROM build skipped", "runtime FROM busybox"}
	if !slices.Equal(stages, wantStages) {
		t.Errorf("stage headings %q, want %q", stages, wantStages)
	}

	warning := "StageNameCasing Stage name 'Build' should be lowercase line 1"
	check(t, b, map[string]string{
		prop(tid("warning"), `innerText.replace(/\s+/g, ' ')`): warning,
		text(tid("build-progress-text")):                       "4 / 4 steps",
		prop(tid("build-error"), "hidden"):                     "true",
	})
	if marked := b.MarkedLines(t, "warning"); !slices.Equal(marked, []string{"1"}) {
		t.Errorf("lines marked with a warning: %q, want [1]", marked)
	}
	b.CheckNoErrors(t)
}

func TestLabMarksFailedLine(t *testing.T) {
	const msg = `process "/bin/sh -c make" did not complete successfully: exit code: 2`
	failing := func(_ context.Context, e emitter) error {
		e.stages(buildStage)
		e.done(fromDebian)
		broken := runMake
		broken.Line = lines(5)
		e.log(broken, "make: *** [greet] Error 2\n")
		e.failed(broken, msg)
		return &domain.BuildError{Kind: "step", Message: msg, StepID: broken.ID, Line: broken.Line}
	}
	_, b := startLab(t, &scriptedWorker{script: failing},
		"?example=multi-stage&variant=multi-stage")
	if got := b.Build(t, 10*time.Second); got != "failed" {
		t.Fatalf("build %s", got)
	}
	b.Screenshot(t, "lab-stub-failure")

	check(t, b, map[string]string{
		text(tid("build-error-message")):                    "P" + msg[1:],
		text(tid("build-error-line")):                       "Show Dockerfile line 5",
		text(`[data-step-id="s2"] ` + tid("step-error")):    msg,
		prop(tid("build-button"), "disabled"):               "false",
		prop(tid("line-marks"), "firstChild?.dataset.line"): "5",
	})
	if marked := b.MarkedLines(t, "error"); !slices.Equal(marked, []string{"5"}) {
		t.Errorf("lines marked as failed: %q, want [5]", marked)
	}
	if steps := b.Steps(t); len(steps) != 2 || !steps[1].Open || steps[1].State != "failed" {
		t.Errorf("steps %+v: want the failed one second and open", steps)
	}
	b.CheckNoErrors(t)
}

// TestLabReconnects drops the socket in the middle of a build: the page must
// come back asking for what it has not seen, and show every event once.
func TestLabReconnects(t *testing.T) {
	dropped := make(chan struct{})
	halves := func(ctx context.Context, e emitter) error {
		e.stages(buildStage)
		e.started(runMake)
		e.log(runMake, "first half\n")
		select {
		case <-dropped:
		case <-ctx.Done():
			return ctx.Err()
		}
		e.log(runMake, "second half\n")
		e.done(runMake)
		e.progress(1, 1)
		return nil
	}
	runner, b := startLab(t, &scriptedWorker{script: halves}, "")

	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("build-button")))
	b.WaitFor(t, 10*time.Second, "the first half of the log",
		browser.Text(browser.TestID("step-log"))+` === 'first half\n'`)
	b.DropConnection(t)
	b.WaitFor(t, 10*time.Second, "a second connection", `window.layerlab.stats().connects >= 2`)
	close(dropped)
	b.WaitStatus(t, 10*time.Second, "succeeded")

	got := b.Stats(t)
	build, ok := runner.Get(got.BuildID)
	if !ok {
		t.Fatalf("runner has no build %q", got.BuildID)
	}
	n := build.Events.Len()
	if got.Events != n || got.LastSeq != n || got.Repeats != 0 {
		t.Errorf("page stats %+v; want %d events, last seq %d, no repeats", got, n, n)
	}
	steps := b.Steps(t)
	if len(steps) != 1 || steps[0].Log != "first half\nsecond half\n" {
		t.Errorf("steps %+v; want one, with each half of its log once", steps)
	}
	b.CheckNoErrors(t)
}

// TestLabSendsEdits checks that what the person edits is what gets built:
// files added, renamed and deleted, the target and the build args.
func TestLabSendsEdits(t *testing.T) {
	w := &scriptedWorker{script: func(context.Context, emitter) error { return nil }}
	_, b := startLab(t, w, "?example=copy-order&variant=deps-first")

	row := func(path, testid string) chromedp.CSS {
		return chromedp.CSS(`[data-path="` + path + `"] ` + browser.TestID(testid))
	}
	b.Do(t, 20*time.Second,
		// Add a file and type into it.
		chromedp.SendKeys(browser.ByTestID("file-add-input"), "notes/todo.txt"),
		chromedp.Click(browser.ByTestID("file-add")),
		chromedp.WaitVisible(row("notes/todo.txt", "file-open")),
		chromedp.SendKeys(browser.ByTestID("editor"), "ship it\n"),
		// Rename deps.lock.
		chromedp.Click(row("deps.lock", "file-rename")),
		chromedp.SetValue(row("deps.lock", "file-rename-input"), "deps.txt"),
		chromedp.Click(row("deps.lock", "file-rename-save")),
		chromedp.WaitVisible(row("deps.txt", "file-open")),
		// Delete the app.
		chromedp.Click(row("app/main.sh", "file-delete")),
		chromedp.WaitNotPresent(row("app/main.sh", "file-open")),
	)
	// The keyboard stays in the list, on the file after the deleted one.
	focused := browser.Eval[string](t, b, `document.activeElement.closest('[data-path]')?.dataset.path`)
	if focused != "deps.txt" {
		t.Errorf("focus on %q after the delete, want deps.txt", focused)
	}
	b.Do(t, 20*time.Second,
		// Set a target and a build arg.
		chromedp.SendKeys(browser.ByTestID("target-input"), "final"),
		chromedp.Click(browser.ByTestID("arg-add")),
		chromedp.SendKeys(browser.ByTestID("arg-name"), "RELEASE"),
		chromedp.SendKeys(browser.ByTestID("arg-value"), "2"),
	)
	if got := b.Build(t, 10*time.Second); got != "succeeded" {
		t.Fatalf("build %s", got)
	}

	spec := w.lastSpec(t)
	got := map[string]string{
		"target":     spec.Target,
		"dockerfile": spec.Dockerfile,
		"RELEASE":    spec.BuildArgs["RELEASE"],
	}
	for name, data := range spec.Files {
		got[name] = string(data)
	}
	want := map[string]string{
		"target":         "final",
		"dockerfile":     "Dockerfile",
		"RELEASE":        "2",
		"Dockerfile":     string(spec.Files["Dockerfile"]),
		"deps.txt":       "ansi-colors 4.1.3\njson-lite 0.6.2\nretry-later 1.0.7\n",
		"notes/todo.txt": "ship it\n",
	}
	if len(got) != len(want) {
		t.Errorf("built %v, want the keys of %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("built %s = %q, want %q", k, got[k], v)
		}
	}
	b.CheckNoErrors(t)
}

// TestLabShowsRefusal empties the Dockerfile: the server refuses the build
// with 400 and the page shows why.
func TestLabShowsRefusal(t *testing.T) {
	_, b := startLab(t, &scriptedWorker{script: successScript}, "")
	b.SetEditor(t, "  \n")
	if got := b.Build(t, 10*time.Second); got != "failed" {
		t.Fatalf("build %s", got)
	}
	got := browser.Eval[string](t, b, `document.querySelector('`+browser.TestID("build-error")+
		`').innerText.replace(/\s+/g, ' ').trim()`)
	want := `The server refused the build The Dockerfile "Dockerfile" is empty`
	if got != want {
		t.Errorf("error box %q; want %q", got, want)
	}
	b.CheckNoErrors(t)
}

// TestLabAppliesScenario presses the example's "make the change" button.
func TestLabAppliesScenario(t *testing.T) {
	_, b := startLab(t, &scriptedWorker{script: successScript}, "?example=copy-order")
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("scenario-apply")))
	done := "Changed app/main.sh. Build again and compare the steps."
	check(t, b, map[string]string{
		text(tid("editor-path")):                     "app/main.sh",
		prop(tid("editor"), "value.split('\\n')[1]"): `echo "tally v2"`,
		text(tid("scenario-done")):                   done,
	})
	b.CheckNoErrors(t)
}

// TestLabDeletesEveryFile leaves the context empty: the editor has nothing
// to edit, and typing cannot create a file without a name.
func TestLabDeletesEveryFile(t *testing.T) {
	w := &scriptedWorker{script: successScript}
	_, b := startLab(t, w, "?example=copy-order")
	for _, path := range []string{"Dockerfile", "app/main.sh", "deps.lock"} {
		b.Do(t, 10*time.Second, chromedp.Click(chromedp.CSS(
			`[data-path="`+path+`"] `+browser.TestID("file-delete"))))
	}
	check(t, b, map[string]string{
		prop(tid("editor"), "disabled"):                                   "true",
		text(tid("editor-path")):                                          "No file open",
		"String(document.querySelectorAll('" + tid("file") + "').length)": "0",
	})
	b.CheckNoErrors(t)
}
