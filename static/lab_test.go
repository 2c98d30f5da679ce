package static_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
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

// measuringWorker is a scripted worker that also weighs images: the runner
// plays its measure script after the build's result, as it calls the real
// worker's Measure.
type measuringWorker struct {
	*scriptedWorker
	measure func(ctx context.Context, e emitter) error
}

func (w measuringWorker) Measure(ctx context.Context, _ string, _ domain.Spec,
	emit func(domain.Event)) error {
	return w.measure(ctx, emitter(emit))
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

// flat is an expression for the text a person reads in the first element
// css matches, its white space squeezed.
func flat(css string) string { return prop(css, `innerText.replace(/\s+/g, ' ').trim()`) }

// count is an expression for how many elements css matches, as a string.
func count(css string) string {
	return "String(document.querySelectorAll('" + css + "').length)"
}

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
	b.WaitStreamEnd(t, 10*time.Second)

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

// TestLabAppliesBuildArgScenario presses "make the change" of an example
// whose scenario sets a build arg: the arg's row takes the new value.
func TestLabAppliesBuildArgScenario(t *testing.T) {
	w := &scriptedWorker{script: successScript}
	_, b := startLab(t, w, "?example=build-arg")
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("scenario-apply")))
	check(t, b, map[string]string{
		count(tid("arg-row")):           "1",
		prop(tid("arg-name"), "value"):  "RELEASE",
		prop(tid("arg-value"), "value"): "2",
		text(tid("editor-path")):        "Dockerfile",
		text(tid("scenario-done")): "Changed build arg RELEASE to 2. " +
			"Build again and compare the steps.",
	})
	if got := b.Build(t, 10*time.Second); got != "succeeded" {
		t.Fatalf("build %s", got)
	}
	if spec := w.lastSpec(t); spec.BuildArgs["RELEASE"] != "2" || len(spec.Files) != 2 {
		t.Errorf("built args %v with %d files, want RELEASE=2 and the 2 files",
			spec.BuildArgs, len(spec.Files))
	}
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

func (e emitter) size(s domain.StageSize) { e(domain.Event{Type: domain.EventStageSize, Size: &s}) }

func (e emitter) image(r domain.ImageReport) { e(domain.Event{Type: domain.EventImage, Image: &r}) }

func sizeRow(instruction string, line int, size, compressed int64) domain.SizeRow {
	r := domain.SizeRow{Instruction: instruction, Line: lines(line),
		SizeBytes: size, CompressedBytes: compressed}
	if size > 0 {
		r.Layers = 1
	}
	return r
}

func baseRow(instruction string, line int, size, compressed int64, layers int) domain.SizeRow {
	r := sizeRow(instruction, line, size, compressed)
	r.Base, r.Layers = true, layers
	return r
}

func stageSize(name string, rows ...domain.SizeRow) domain.StageSize {
	s := domain.StageSize{Name: name, Rows: rows}
	for _, r := range rows {
		s.SizeBytes += r.SizeBytes
		s.CompressedBytes += r.CompressedBytes
		s.Layers += r.Layers
	}
	return s
}

// The sizes of successScript's two built stages: a fat build stage with a
// metadata-only ENV, and a small runtime stage. 1280 bytes is 1.25 KiB, a
// tie that rounds to even as the server's own formatting does.
var (
	buildSize = stageSize("build",
		baseRow("FROM debian:bookworm-slim", 1, 78_000_000, 28_000_000, 1),
		sizeRow("RUN make", 2, 40_000_000, 12_000_000),
		sizeRow("ENV MODE=test", 3, 0, 0))
	runtimeSize = stageSize("runtime",
		baseRow("FROM busybox", 6, 4_400_000, 2_100_000, 1),
		sizeRow("COPY --from=build /greet /", 7, 1_572_864, 600_000),
		sizeRow("RUN echo 1 > /etc/greet.conf", 8, 1280, 300),
		sizeRow("USER 0", 9, 0, 0))
	runtimeImage = domain.ImageReport{
		Stage:             "runtime",
		SizeBytes:         runtimeSize.SizeBytes,
		CompressedBytes:   runtimeSize.CompressedBytes,
		Layers:            runtimeSize.Layers,
		WastedBytes:       1280,
		EfficiencyPercent: 99.97,
		WastedFiles:       []domain.WastedFile{{Path: "/tmp/cache", WastedBytes: 1280, Layers: 2}},
		Base:              "busybox",
		User:              "0",
		RunsAsRoot:        true,
		ExposedPorts:      []string{"8080/tcp"},
		Entrypoint:        []string{"/greet"},
		Cmd:               []string{"--help"},
		EnvNames:          []string{"PATH", "MODE"},
		KeptOut:           []domain.StageSize{{Name: "build", SizeBytes: buildSize.SizeBytes}},
		SavedBytes:        buildSize.SizeBytes - runtimeSize.SizeBytes,
	}
)

// measureScript reports the sizes of successScript's build once release
// is closed, so that a test can look at the page while it waits.
func measureScript(release <-chan struct{}) func(context.Context, emitter) error {
	return func(ctx context.Context, e emitter) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		e.size(buildSize)
		e.size(runtimeSize)
		e.image(runtimeImage)
		return nil
	}
}

func TestLabShowsSizes(t *testing.T) {
	release := make(chan struct{})
	w := measuringWorker{&scriptedWorker{script: successScript}, measureScript(release)}
	_, b := startLab(t, w, "?example=multi-stage&variant=multi-stage")

	// The sizes come after the build's result: until they do, the page
	// says it is weighing the stages the build needed.
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("build-button")))
	b.WaitStatus(t, 10*time.Second, "succeeded")
	check(t, b, map[string]string{
		prop(tid("sizes-status"), "hidden"):                     "false",
		text(`[data-stage="build"] ` + tid("size-stage-total")): "measuring…",
		text(`[data-stage="lint"] ` + tid("size-stage-total")):  "not built, no size",
		prop(tid("image-card"), "hidden"):                       "true",
	})
	b.Screenshot(t, "lab-stub-measuring")

	// A socket lost while the images are weighed comes back for the sizes.
	b.DropConnection(t)
	b.WaitFor(t, 10*time.Second, "a second connection", `window.layerlab.stats().connects >= 2`)
	close(release)
	b.WaitStreamEnd(t, 10*time.Second)
	if got := b.Stats(t); got.Repeats != 0 || got.Events != got.LastSeq {
		t.Errorf("page stats %+v: want every event once", got)
	}
	check(t, b, map[string]string{
		prop(tid("sizes-status"), "hidden"):         "true",
		prop(tid("build-status"), "dataset.status"): "succeeded",
	})
	b.Do(t, 10*time.Second, chromedp.Click(
		chromedp.CSS(`[data-stage="runtime"] .size-breakdown summary`)))
	b.Screenshot(t, "lab-stub-sizes")

	// The step list: a size for each step of a measured stage, the base's
	// share on FROM, exact bytes and the compressed size in the title.
	stepSizes := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll('`+
		tid("step-size")+`')).map((s) => s.textContent + ' | ' + (s.dataset.bytes ?? '-'))`)
	want := []string{" | -", "74.4 MiB | 78000000", "38.1 MiB | 40000000",
		"4.2 MiB | 4400000", "1.5 MiB | 1572864"}
	if strings.Join(stepSizes, ", ") != strings.Join(want, ", ") {
		t.Errorf("step sizes %q, want %q", stepSizes, want)
	}
	copyTitle := "1,572,864 bytes uncompressed\n585.9 KiB compressed (600,000 bytes)"
	check(t, b, map[string]string{
		prop(`[data-step-id="s4"] `+tid("step-size"), "title"):   copyTitle,
		text(`[data-stage="build"] ` + tid("stage-size")):        "112.5 MiB",
		prop(`[data-stage="lint"] `+tid("stage-size"), "hidden"): "true",
		text(`[data-stage="runtime"] ` + tid("stage-size")):      "5.7 MiB",
	})

	// The chart: every stage, in Dockerfile order, on one scale.
	type chartStage struct {
		Name, Role, Total string
		Width             float64
		Segments          []string
	}
	chart := browser.Eval[[]chartStage](t, b, `Array.from(document.querySelectorAll('`+
		tid("size-stage")+`')).map((li) => {
			const segs = Array.from(li.querySelectorAll('`+tid("size-segment")+`'));
			return {
				name: li.dataset.stage,
				role: li.dataset.role,
				total: li.querySelector('`+tid("size-stage-total")+`').textContent,
				width: segs.reduce((w, s) => w + Number(s.getAttribute('width')), 0),
				segments: segs.map((s) => s.getAttribute('aria-label')),
			};
		})`)
	if len(chart) != 3 {
		t.Fatalf("chart %+v, want three stages", chart)
	}
	wantChart := []chartStage{
		{Name: "build", Role: "kept out", Total: "112.5 MiB", Segments: []string{
			"FROM debian:bookworm-slim (base, line 1): 74.4 MiB, 26.7 MiB compressed",
			"RUN make (line 2): 38.1 MiB, 11.4 MiB compressed",
		}},
		{Name: "lint", Role: "skipped", Total: "not built, no size"},
		{Name: "runtime", Role: "shipped", Total: "5.7 MiB", Segments: []string{
			"FROM busybox (base, line 6): 4.2 MiB, 2 MiB compressed",
			"COPY --from=build /greet / (line 7): 1.5 MiB, 585.9 KiB compressed",
			"RUN echo 1 > /etc/greet.conf (line 8): 1.2 KiB, 300 B compressed",
		}},
	}
	for i, w := range wantChart {
		got := chart[i]
		if got.Name != w.Name || got.Role != w.Role || got.Total != w.Total ||
			!slices.Equal(got.Segments, w.Segments) {
			t.Errorf("chart stage %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	// The build stage fills the scale; the runtime's bar is as much shorter
	// as the image is smaller (its 1.2 KiB sliver drawn a hair wide).
	scale := float64(runtimeSize.SizeBytes) / float64(buildSize.SizeBytes) * 1000
	if chart[0].Width != 1000 || chart[2].Width < scale || chart[2].Width > scale+2 {
		t.Errorf("bar widths %v and %v, want 1000 and %.1f", chart[0].Width, chart[2].Width, scale)
	}

	// The breakdown lists metadata-only rows with 0 B.
	rows := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll(
		'[data-stage="runtime"] `+tid("size-row")+`'),
		(tr) => tr.innerText.replace(/\s+/g, ' ').trim())`)
	wantRows := []string{
		"FROM busybox 6 4.2 MiB 2 MiB",
		"COPY --from=build /greet / 7 1.5 MiB 585.9 KiB",
		"RUN echo 1 > /etc/greet.conf 8 1.2 KiB 300 B",
		"USER 0 9 0 B 0 B",
	}
	if !slices.Equal(rows, wantRows) {
		t.Errorf("runtime breakdown %q, want %q", rows, wantRows)
	}

	// Focus reaches a segment and the readout names it.
	browser.Eval[bool](t, b,
		`(document.querySelectorAll('`+tid("size-segment")+`')[1].focus(), true)`)
	check(t, b, map[string]string{
		text(tid("size-readout")): "RUN make (line 2): 38.1 MiB, 11.4 MiB compressed",
	})

	// The report card.
	saved := buildSize.SizeBytes - runtimeSize.SizeBytes
	check(t, b, map[string]string{
		text(tid("image-stage")):                         "runtime",
		text(tid("image-size")):                          "5.7 MiB",
		prop(tid("image-size"), "title"):                 "5,974,144 bytes",
		prop(tid("image-size"), "dataset.bytes"):         "5974144",
		text(tid("image-compressed")):                    "2.6 MiB",
		text(tid("image-layers")):                        "3",
		text(tid("image-efficiency")):                    "99.9%",
		prop(tid("image-root-warning"), "hidden"):        "false",
		prop(tid("image-healthcheck-missing"), "hidden"): "false",
		text(tid("image-base")):                          "busybox",
		text(tid("image-user")):                          "0",
		prop(tid("image-user"), "className"):             "is-warning",
		prop(tid("image-ports"), "innerText"):            "8080/tcp",
		text(tid("image-healthcheck")):                   "none",
		text(tid("image-entrypoint")):                    `["/greet"]`,
		text(tid("image-cmd")):                           `["--help"]`,
		text(tid("image-workdir")):                       "/ (not set)",
		flat(tid("image-env")):                           "PATH MODE",
		text(tid("image-wasted")):                        "1.2 KiB",
		flat(tid("wasted-file")):                         "/tmp/cache 1.2 KiB 2",
		text(tid("image-saved")):                         domain.FormatBytes(saved),
		prop(tid("image-saved"), "dataset.bytes"):        fmt.Sprint(saved),
		flat(tid("kept-out-stage")):                      "build 112.5 MiB",
	})

	b.Resize(t, 390, 844)
	b.Screenshot(t, "lab-stub-sizes-390")
	b.CheckNoErrors(t)
}

// TestLabSizeCases feeds the size events of builds that differ from the
// usual two-stage one and checks what the page makes of them.
func TestLabSizeCases(t *testing.T) {
	hardened := stageSize("stage-0",
		baseRow("FROM scratch", 1, 0, 0, 0),
		sizeRow("COPY tally /tally", 2, 7_340_032, 3_000_000),
		sizeRow("USER 65532:65532", 3, 0, 0))
	cases := []struct {
		name    string
		build   func(context.Context, emitter) error
		measure func(context.Context, emitter) error // nil: a worker that does not measure
		checks  map[string]string
	}{
		{
			name: "one stage, hardened",
			build: func(_ context.Context, e emitter) error {
				e.stages(domain.Stage{Name: "stage-0", Base: "scratch"})
				return nil
			},
			measure: func(_ context.Context, e emitter) error {
				e.size(hardened)
				e.image(domain.ImageReport{
					Stage:             "stage-0",
					SizeBytes:         hardened.SizeBytes,
					Layers:            1,
					EfficiencyPercent: 100,
					WastedFiles:       []domain.WastedFile{},
					Base:              "scratch",
					User:              "65532:65532",
					Healthcheck:       []string{"CMD", "/tally", "-healthcheck"},
					Entrypoint:        []string{"/tally"},
					WorkingDir:        "/srv",
					ExposedPorts:      []string{},
					EnvNames:          []string{},
					KeptOut:           []domain.StageSize{},
				})
				return nil
			},
			checks: map[string]string{
				text(tid("size-stage-total")):                    "7 MiB",
				prop(tid("size-stage-role"), "textContent"):      "shipped",
				count(tid("size-segment")):                       "1",
				prop(tid("image-root-warning"), "hidden"):        "true",
				prop(tid("image-healthcheck-missing"), "hidden"): "true",
				text(tid("image-base")):                          "scratch",
				text(tid("image-user")):                          "65532:65532",
				text(tid("image-healthcheck")):                   `["/tally","-healthcheck"]`,
				text(tid("image-workdir")):                       "/srv",
				text(tid("image-cmd")):                           "not set",
				prop(tid("image-ports"), "innerText"):            "none",
				text(tid("image-efficiency")):                    "100%",
				text(tid("image-wasted")):                        "0 B",
				prop(tid("wasted-files-table"), "hidden"):        "true",
				text(tid("image-saved")):                         "0 B",
				text(tid("image-saved-note")): "saved: the image is the only stage the build " +
					"needed, so all it used ships.",
			},
		},
		{
			// Measuring stopped after the first stage: the build succeeded
			// all the same, a warning says why, and there is no card.
			name: "measuring failed",
			build: func(_ context.Context, e emitter) error {
				e.stages(buildStage, runtimeStage)
				e.done(runMake)
				return nil
			},
			measure: func(_ context.Context, e emitter) error {
				e.size(buildSize)
				return errors.New("disk full")
			},
			checks: map[string]string{
				flat(tid("warning")):                                           "layerlab the image sizes could not be measured: disk full",
				prop(tid("sizes-status"), "hidden"):                            "true",
				prop(tid("sizes"), "hidden"):                                   "false",
				prop(tid("image-card"), "hidden"):                              "true",
				text(`[data-stage="build"] ` + tid("size-stage-total")):        "112.5 MiB",
				text(`[data-stage="runtime"] ` + tid("size-stage-total")):      "not measured",
				prop(`[data-stage="build"] `+tid("size-stage-role"), "hidden"): "true",
				text(`[data-step-id="s2"] ` + tid("step-size")):                "38.1 MiB",
			},
		},
		{
			name: "no sizes",
			build: func(_ context.Context, e emitter) error {
				e.stages(buildStage)
				e.done(runMake)
				return nil
			},
			checks: map[string]string{
				prop(tid("sizes"), "hidden"):                    "true",
				text(`[data-step-id="s2"] ` + tid("step-size")): "",
				prop(tid("stage-size"), "hidden"):               "true",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w domain.Worker = &scriptedWorker{script: c.build}
			if c.measure != nil {
				w = measuringWorker{&scriptedWorker{script: c.build}, c.measure}
			}
			_, b := startLab(t, w, "?example=multi-stage&variant=multi-stage")
			if got := b.Build(t, 10*time.Second); got != "succeeded" {
				t.Fatalf("build %s", got)
			}
			check(t, b, c.checks)
			b.CheckNoErrors(t)
		})
	}
}

// A long file scrolls inside the editor: its line numbers neither stretch
// the editor past the text box nor drift from the lines as it scrolls.
func TestLabEditorKeepsItsHeight(t *testing.T) {
	w := &scriptedWorker{script: func(context.Context, emitter) error { return nil }}
	_, b := startLab(t, w, "?example=copy-order&variant=deps-first")
	var long strings.Builder
	for i := range 300 {
		fmt.Fprintf(&long, "RUN echo %d\n", i)
	}
	b.SetEditor(t, long.String())
	got := browser.Eval[map[string]float64](t, b, `(() => {
		const box = (css) => document.querySelector(css).getBoundingClientRect();
		const ed = document.querySelector('`+tid("editor")+`');
		ed.scrollTop = 2000;
		ed.dispatchEvent(new Event('scroll'));
		const line = Array.from(document.querySelectorAll('.gutter-line'))
			.find((l) => l.getBoundingClientRect().top >= box('`+tid("editor")+`').top + 10);
		return {
			editor: box('`+tid("editor")+`').height,
			body: box('.editor-body').height,
			gutter: box('.gutter').height,
			firstVisible: Number(line.textContent),
			lineHeight: line.getBoundingClientRect().height,
		};
	})()`)
	if got["body"] > got["editor"]+1 || got["gutter"] > got["editor"]+1 {
		t.Errorf("editor %.0f px high, its body %.0f and its gutter %.0f: want them no taller",
			got["editor"], got["body"], got["gutter"])
	}
	// Scrolled by 2000 px, the first line number in view is about the
	// line 2000 px down.
	if want := 2000 / got["lineHeight"]; got["firstVisible"] < want-2 || got["firstVisible"] > want+3 {
		t.Errorf("first line number in view %v after scrolling 2000 px at %v px a line", got["firstVisible"],
			got["lineHeight"])
	}
}
