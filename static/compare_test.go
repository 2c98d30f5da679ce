package static_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
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

// These tests run compare.js in Chromium against the real handlers, runner
// and scenario runs, with cacheWorker in place of BuildKit.

// cacheWorker builds single-stage Dockerfiles of one instruction a line the
// way BuildKit caches, in miniature: a step's key is its instruction, the
// key before it, the content of the files a COPY takes and, for a RUN, the
// build args declared above it. A build reuses the keys an earlier build of
// the same cache salt left, unless it asks for no cache. A RUN that says
// sleep takes a while; one that says exit fails.
type cacheWorker struct {
	// gate, when set, holds the first rebuild until it is closed.
	gate chan struct{}

	mu    sync.Mutex
	keys  map[string]bool
	specs []domain.Spec
	held  bool
}

const sleepStep = 300 * time.Millisecond

func (w *cacheWorker) Build(ctx context.Context, _ string, spec domain.Spec,
	emit func(domain.Event)) error {
	w.mu.Lock()
	w.specs = append(w.specs, spec)
	wait := w.gate != nil && !spec.Options.NoCache && !w.held
	w.held = w.held || wait
	w.mu.Unlock()
	if wait {
		select {
		case <-w.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	plan := miniPlan(spec)
	stage := plan.Stages[0]
	emit(domain.Event{Type: domain.EventStages, Stages: []domain.Stage{{Name: stage.Name,
		Base: stage.Base, Line: stage.Line}}})
	total := 1
	for _, in := range stage.Instructions {
		if isStepKeyword(in.Keyword) {
			total++
		}
	}

	key := spec.Options.CacheSalt + "\x00" + stage.Base
	index := 1
	step := func(text string, line domain.LineRange, id string) domain.Step {
		return domain.Step{ID: id, Stage: stage.Name, Index: index, Total: total,
			Instruction: text, Line: &line}
	}
	if err := w.run(ctx, emit, step("FROM "+stage.Base, stage.Line, hash(key)), key, spec); err != nil {
		return err
	}
	args := map[string]bool{}
	for _, in := range stage.Instructions {
		if !isStepKeyword(in.Keyword) {
			key = hash(key, in.Text)
			for name := range in.Args {
				args[name] = true
			}
			continue
		}
		parts := []string{key, in.Text}
		for _, name := range sortedKeys(spec.Files) {
			if copiesFile(in.Sources, name) {
				parts = append(parts, name, string(spec.Files[name]))
			}
		}
		if in.Keyword == "RUN" {
			for _, name := range sortedKeys(args) {
				parts = append(parts, name+"="+spec.BuildArgs[name])
			}
		}
		key = hash(parts...)
		index++
		if err := w.run(ctx, emit, step(in.Text, in.Line, key), key, spec); err != nil {
			return err
		}
	}
	emit(domain.Event{Type: domain.EventProgress,
		Progress: &domain.Progress{Done: total, Total: total}})
	return nil
}

// run plays one step: cached when its key is known, else run. Each event
// gets a copy of the step: the stream keeps what it is sent.
func (w *cacheWorker) run(ctx context.Context, emit func(domain.Event), s domain.Step,
	key string, spec domain.Spec) error {
	send := func(typ domain.EventType, s domain.Step) { emit(domain.Event{Type: typ, Step: &s}) }
	w.mu.Lock()
	cached := w.keys[key] && !spec.Options.NoCache
	w.mu.Unlock()
	if cached {
		s.State, s.Cached = domain.StepCached, true
		send(domain.EventStepCached, s)
		return nil
	}
	start := time.Now()
	s.State = domain.StepRunning
	send(domain.EventStepStarted, s)
	if strings.Contains(s.Instruction, "sleep") {
		select {
		case <-time.After(sleepStep):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.DurationMs = time.Since(start).Milliseconds()
	if strings.Contains(s.Instruction, "exit 3") {
		s.State, s.Error = domain.StepFailed, "exit code: 3"
		send(domain.EventStepFailed, s)
		return &domain.BuildError{Kind: "step", StepID: s.ID, Line: s.Line,
			Message: fmt.Sprintf("%s (line %d) failed: exit code: 3", s.Instruction, s.Line.Start)}
	}
	s.State = domain.StepDone
	send(domain.EventStepCompleted, s)
	w.mu.Lock()
	if w.keys == nil {
		w.keys = map[string]bool{}
	}
	w.keys[key] = true
	w.mu.Unlock()
	return nil
}

// Measure weighs the image: a MiB for the base and 100 KiB a line.
func (w *cacheWorker) Measure(_ context.Context, _ string, spec domain.Spec,
	emit func(domain.Event)) error {
	lines := int64(strings.Count(string(spec.Files[spec.Dockerfile]), "\n"))
	size := int64(1<<20) + lines*100<<10
	emit(domain.Event{Type: domain.EventImage, Image: &domain.ImageReport{
		Stage: "stage-0", SizeBytes: size, CompressedBytes: size / 2, Layers: int(lines)}})
	return nil
}

// Plan reads the Dockerfile as miniPlan does.
func (w *cacheWorker) Plan(spec domain.Spec) (*domain.Plan, error) { return miniPlan(spec), nil }

func (w *cacheWorker) builds() []domain.Spec {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.specs)
}

// miniPlan reads a one-stage Dockerfile with an instruction a line.
func miniPlan(spec domain.Spec) *domain.Plan {
	stage := domain.PlanStage{Name: "stage-0", Parent: -1}
	for i, line := range strings.Split(string(spec.Files[spec.Dockerfile]), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		at := domain.LineRange{Start: i + 1, End: i + 1}
		keyword := strings.ToUpper(fields[0])
		if keyword == "FROM" {
			stage.Base, stage.Line = fields[1], at
			continue
		}
		in := domain.Instruction{Keyword: keyword, Text: strings.TrimSpace(line), Line: at}
		switch keyword {
		case "COPY", "ADD":
			in.Sources = fields[1 : len(fields)-1]
		case "ARG":
			in.Args = map[string]*string{fields[1]: nil}
		}
		stage.Instructions = append(stage.Instructions, in)
	}
	return &domain.Plan{Stages: []domain.PlanStage{stage}}
}

func isStepKeyword(k string) bool {
	return k == "RUN" || k == "COPY" || k == "ADD" || k == "WORKDIR"
}

func copiesFile(sources []string, name string) bool {
	for _, src := range sources {
		if src == "." || src == name || strings.HasPrefix(name, strings.TrimSuffix(src, "/")+"/") {
			return true
		}
	}
	return false
}

func hash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// startCompare serves layerlab with w and opens a browser on the compare
// page of an example.
func startCompare(t *testing.T, w *cacheWorker, example string) (*domain.Runs, *browser.Browser) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := domain.NewRunner(w, domain.RunnerConfig{}, log)
	runs := domain.NewRuns(runner, w, log)
	e, srv := handlers.New(handlers.Deps{
		Runner: runner,
		Runs:   runs,
		Health: func(context.Context) domain.WorkerHealth { return domain.WorkerHealth{Ready: true} },
		Log:    log,
	})
	ts := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
		runner.Close()
	})

	b := browser.Start(t)
	b.Do(t, 20*time.Second,
		chromedp.Navigate(ts.URL+"/compare?example="+example),
		chromedp.WaitVisible(browser.ByTestID("run-button")),
	)
	return runs, b
}

// runScenario presses Run and waits until the page expects no more events
// of the run; it returns the run's status as the page shows it.
func runScenario(t *testing.T, b *browser.Browser) string {
	t.Helper()
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("run-button")))
	waitRunEnd(t, b)
	return browser.Eval[string](t, b, prop(tid("run-status"), "dataset.status"))
}

func waitRunEnd(t *testing.T, b *browser.Browser) {
	t.Helper()
	b.WaitFor(t, 20*time.Second, "the end of the run's event stream",
		`((s) => s.ended || (s.runId === '' && `+
			prop(tid("run-status"), "dataset.status")+` === 'failed'))(window.layerlab.stats())`)
}

// pageStats are the compare page's stream counters.
type pageStats struct {
	RunID                              string
	Events, Repeats, Connects, LastSeq int
	Ended                              bool
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// texts is an expression for the squeezed text of every element css
// matches.
func texts(css string) string {
	return `Array.from(document.querySelectorAll('` + css + `'),
		(e) => e.innerText.replace(/\s+/g, ' ').trim())`
}

func TestCompareRunsCopyOrder(t *testing.T) {
	w := &cacheWorker{gate: make(chan struct{})}
	runs, b := startCompare(t, w, "copy-order")

	// The first rebuild waits: the page shows the builds so far, and a
	// dropped socket comes back for the rest.
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("run-button")))
	b.WaitFor(t, 10*time.Second, "the first rebuild to be next",
		`/rebuild/.test(`+text(tid("run-now"))+`)`)
	check(t, b, map[string]string{
		text(tid("run-now")): "Building Everything first, rebuild after the change: build 2 of 4.",
		count(`[data-variant="copy-all-first"] [data-phase="cold"] ` + tid("run-step")): "4",
		text(tid("run-progress-text")):                               "1 / 4 builds",
		text(`[data-testid="summary-cell"] ` + tid("summary-value")): "…",
	})
	cold := browser.Eval[string](t, b, text(`[data-variant="copy-all-first"] [data-phase="cold"] `+
		tid("phase-summary")))
	if got := timeless(cold); got != "4 of 4 steps ran · TIME" {
		t.Errorf("cold build summary %q, want 4 of 4 steps and the time", cold)
	}
	b.Screenshot(t, "compare-stub-running")
	b.DropConnection(t)
	b.WaitFor(t, 10*time.Second, "a second connection", `window.layerlab.stats().connects >= 2`)
	close(w.gate)
	waitRunEnd(t, b)

	stats := browser.Eval[pageStats](t, b, `window.layerlab.stats()`)
	r, ok := runs.Get(stats.RunID)
	if !ok {
		t.Fatalf("the server has no run %q", stats.RunID)
	}
	if n := r.Events.Len(); stats.Events != n || stats.LastSeq != n || stats.Repeats != 0 {
		t.Errorf("page stats %+v: want every one of %d events once", stats, n)
	}
	state := r.State()
	if state.Status != domain.StatusSucceeded || state.Comparison == nil {
		t.Fatalf("run %s: %+v", state.Status, state.Error)
	}
	b.Screenshot(t, "compare-stub-done")

	check(t, b, map[string]string{
		prop(tid("run-status"), "dataset.status"): "succeeded",
		text(tid("run-progress-text")):            "4 / 4 builds",
		prop(tid("rows-panel"), "hidden"):         "false",
		prop(tid("run-error"), "hidden"):          "true",
	})
	checkSummary(t, b, state.Comparison.Columns)

	// Every step of each rebuild, in Dockerfile order, with its reason.
	rebuild := func(v string) []string {
		return browser.Eval[[]string](t, b, texts(`[data-variant="`+v+`"] [data-phase="rebuild"] `+
			tid("run-step")))
	}
	wantBad := []string{
		"FROM busybox cached Same base image as before.",
		"WORKDIR /app cached Nothing it depends on changed.",
		"COPY . . first miss ran again TIME A file it copies changed: app/main.sh.",
		"RUN sleep 2 && mkdir -p vendor && cp deps.lock vendor/installed.lock ran again TIME " +
			"An earlier step of its stage reran: COPY . . (line 4); every step after a rerun " +
			"step runs again.",
	}
	if got := mapStrings(rebuild("copy-all-first"), timeless); !slices.Equal(got, wantBad) {
		t.Errorf("copy-all-first rebuild:\n got %q\nwant %q", got, wantBad)
	}
	good := mapStrings(rebuild("deps-first"), timeless)
	if len(good) != 5 || !strings.HasPrefix(good[3], "RUN sleep 2") ||
		!strings.Contains(good[3], "cached BuildKit") && !strings.Contains(good[3], "cached Nothing") ||
		good[4] != "COPY . . first miss ran again TIME A file it copies changed: app/main.sh." {
		t.Errorf("deps-first rebuild %q: want the install cached and the last COPY the first miss", good)
	}

	// The rebuilt Dockerfile, its first miss marked at line 4.
	marks := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll(
		'[data-variant="copy-all-first"] `+tid("code-line")+`'),
		(li) => li.dataset.line + ':' + (li.dataset.mark || '') + ':' +
			li.querySelector('`+tid("code-mark")+`').textContent)`)
	wantMarks := []string{"1:cached:", "2:cached:", "3::", "4:first:first miss", "5::", "6:rerun:", "7::"}
	if !slices.Equal(marks, wantMarks) {
		t.Errorf("marked lines %q, want %q", marks, wantMarks)
	}

	checkRows(t, b, state.Comparison, []string{"copy-all-first: COPY . .", "deps-first: COPY . ."})
	checkBars(t, b, state.Comparison.Columns)

	b.Resize(t, 390, 844)
	b.Screenshot(t, "compare-stub-done-390")
	b.CheckNoErrors(t)
}

var duration = regexp.MustCompile(`\b\d+(\.\d)? (ms|s)\b|\b\d+ min \d+ s\b`)

// timeless writes every duration in text ("312 ms", "2.1 s") as TIME, so
// that what the page says compares whatever the machine's speed.
func timeless(text string) string { return duration.ReplaceAllString(text, "TIME") }

// checkSummary compares the table of figures with the server's columns.
func checkSummary(t *testing.T, b *browser.Browser, cols []domain.Column) {
	t.Helper()
	got := browser.Eval[[]string](t, b, texts(tid("summary-row")))
	fmtMs := func(ms int64) string {
		return browser.Eval[string](t, b, fmt.Sprintf(`window.layerlabKit.formatMs(%d)`, ms))
	}
	a, c := cols[0], cols[1]
	sign := func(d int64, f func(int64) string) string {
		switch {
		case d > 0:
			return "+" + f(d)
		case d < 0:
			return "−" + f(-d)
		}
		return "same"
	}
	bytes := func(n int64) string { return domain.FormatBytes(n) }
	want := []string{
		fmt.Sprintf("Final image uncompressed %s %s %s", bytes(a.SizeBytes), bytes(c.SizeBytes),
			sign(c.SizeBytes-a.SizeBytes, bytes)),
		fmt.Sprintf("Compressed what a pull downloads %s %s %s", bytes(a.CompressedBytes),
			bytes(c.CompressedBytes), sign(c.CompressedBytes-a.CompressedBytes, bytes)),
		fmt.Sprintf("Cold build nothing reused %s %s %s", fmtMs(a.ColdMs), fmtMs(c.ColdMs),
			sign(c.ColdMs-a.ColdMs, fmtMs)),
		fmt.Sprintf("Rebuild after the change %s %s %s", fmtMs(a.RebuildMs), fmtMs(c.RebuildMs),
			sign(c.RebuildMs-a.RebuildMs, fmtMs)),
		"Steps rerun in the rebuild 2 of 4 1 of 5 −1 step",
		"Cache hits steps the rebuild reused 50% 80% +30 points",
	}
	if !slices.Equal(got, want) {
		t.Errorf("summary:\n got %q\nwant %q", got, want)
	}
	head := browser.Eval[[]string](t, b, texts(tid("summary-variant")))
	if !slices.Equal(head, []string{"Everything first", "Dependency list first"}) {
		t.Errorf("summary columns %q", head)
	}
	trends := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll('`+
		`[data-metric="rerun"] [data-variant="deps-first"] `+tid("summary-delta")+`, `+
		`[data-metric="hits"] [data-variant="deps-first"] `+tid("summary-delta")+`'),
		(d) => d.dataset.trend)`)
	if !slices.Equal(trends, []string{"better", "better"}) {
		t.Errorf("trends of the second column's steps and hits %q, want better", trends)
	}
}

// checkRows compares the instruction table with the server's rows, and
// the cells marked as first misses ("variant: instruction") with firstMiss.
func checkRows(t *testing.T, b *browser.Browser, cmp *domain.Comparison, firstMiss []string) {
	t.Helper()
	type cell struct{ State, Outcome, Kind, Reason, Title string }
	type row struct {
		Instruction string
		Cells       []cell
	}
	got := browser.Eval[[]row](t, b, `Array.from(document.querySelectorAll('`+tid("row")+`'),
		(tr) => ({
			instruction: tr.querySelector('`+tid("row-instruction")+`').textContent,
			cells: Array.from(tr.querySelectorAll('`+tid("cell")+`'), (td) => ({
				state: td.dataset.state,
				outcome: td.querySelector('`+tid("cell-outcome")+`').textContent,
				kind: td.dataset.kind || '',
				reason: td.querySelector('`+tid("cell-reason")+`')?.textContent || '',
				title: td.title,
			})),
		}))`)
	if len(got) != len(cmp.Rows) {
		t.Fatalf("%d rows on the page, the server has %d", len(got), len(cmp.Rows))
	}
	for i, r := range cmp.Rows {
		if got[i].Instruction != r.Instruction || len(got[i].Cells) != len(r.Cells) {
			t.Errorf("row %d: %+v, want %q with %d cells", i, got[i], r.Instruction, len(r.Cells))
			continue
		}
		for j, c := range r.Cells {
			g := got[i].Cells[j]
			switch {
			case c == nil:
				if g.State != "none" || g.Outcome != "—" {
					t.Errorf("row %q cell %d: %+v, want an empty cell", r.Instruction, j, g)
				}
			case g.State != map[bool]string{true: "cached", false: "rerun"}[c.Cached] ||
				g.Kind != c.Reason.Kind || g.Reason != sentence(c.Reason.Text) ||
				g.Title != fmt.Sprintf("%s (line %d)", g.Reason, c.Line.Start):
				t.Errorf("row %q cell %d: %+v, want cached %v, reason %+v", r.Instruction, j,
					g, c.Cached, c.Reason)
			}
		}
	}
	marked := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll(
		'.cell.is-first-miss'), (td) => td.dataset.variant + ': ' +
		td.closest('tr').querySelector('`+tid("row-instruction")+`').textContent)`)
	if !slices.Equal(marked, firstMiss) {
		t.Errorf("first misses %q, want %q", marked, firstMiss)
	}
}

// sentence is a reason's text as the page writes it.
func sentence(text string) string { return strings.ToUpper(text[:1]) + text[1:] + "." }

// checkBars checks that the charts draw each figure on its chart's scale.
func checkBars(t *testing.T, b *browser.Browser, cols []domain.Column) {
	t.Helper()
	type bar struct {
		Variant, Kind string
		Width         float64
	}
	bars := browser.Eval[[]bar](t, b, `Array.from(document.querySelectorAll('`+tid("bar")+`'),
		(el) => ({
			variant: el.closest('`+tid("bar-group")+`').dataset.variant,
			kind: el.dataset.kind,
			width: Number(el.querySelector('`+tid("bar-fill")+`').getAttribute('width')),
		}))`)
	figure := map[string]func(domain.Column) int64{
		"cold":       func(c domain.Column) int64 { return c.ColdMs },
		"rebuild":    func(c domain.Column) int64 { return c.RebuildMs },
		"size":       func(c domain.Column) int64 { return c.SizeBytes },
		"compressed": func(c domain.Column) int64 { return c.CompressedBytes },
	}
	var timeScale, sizeScale int64 = 1, 1
	for _, c := range cols {
		timeScale = max(timeScale, c.ColdMs, c.RebuildMs)
		sizeScale = max(sizeScale, c.SizeBytes)
	}
	if len(bars) != 4*len(cols) {
		t.Fatalf("%d bars, want 4 per variant: %+v", len(bars), bars)
	}
	for _, br := range bars {
		i := slices.IndexFunc(cols, func(c domain.Column) bool { return c.Variant == br.Variant })
		scale := timeScale
		if br.Kind == "size" || br.Kind == "compressed" {
			scale = sizeScale
		}
		want := float64(figure[br.Kind](cols[i])) / float64(scale) * 1000
		if br.Width < want-0.1 || br.Width > max(want, 4)+0.1 {
			t.Errorf("bar %+v, want width %.1f", br, want)
		}
	}
}

// setField sets an input or textarea the way typing would, so that the
// page's input and change handlers see it.
func setField(t *testing.T, b *browser.Browser, css, value string) {
	t.Helper()
	quoted, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	browser.Eval[bool](t, b, `(() => {
		const el = document.querySelector('`+css+`');
		el.value = `+string(quoted)+`;
		el.dispatchEvent(new Event('input', { bubbles: true }));
		el.dispatchEvent(new Event('change', { bubbles: true }));
		return true;
	})()`)
}

// TestCompareSendsChanges edits the changes and a Dockerfile: what the
// worker is asked to build is what the page shows.
func TestCompareSendsChanges(t *testing.T) {
	w := &cacheWorker{}
	runs, b := startCompare(t, w, "build-arg")
	last := func(id string) string { return tid("change-list") + ` li:last-child ` + tid(id) }
	add := func(kind string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(tid("change-add") + `[data-kind="` + kind + `"]`))
	}

	setField(t, b, tid("change-arg-value"), "3")
	// A new file change starts from the file's content.
	b.Do(t, 10*time.Second, add("file"))
	setField(t, b, last("change-path"), "notes.txt")
	notes := browser.Eval[string](t, b, prop(last("change-content"), "value"))
	if !strings.HasPrefix(notes, "Release notes for tally.\n") {
		t.Errorf("the new change's content starts %q, want notes.txt as it is", notes)
	}
	setField(t, b, last("change-content"), notes+"Counted the notes once more.\n")
	// A file added, then deleted; and a target.
	b.Do(t, 10*time.Second, add("file"))
	setField(t, b, last("change-path"), "extra.txt")
	setField(t, b, last("change-content"), "extra\n")
	b.Do(t, 10*time.Second, add("delete"))
	setField(t, b, last("change-path"), "extra.txt")
	b.Do(t, 10*time.Second, add("target"))
	setField(t, b, last("change-target"), "stage-0")
	// The second variant's Dockerfile gets a step more.
	late := `[data-variant="arg-late"] ` + tid("variant-dockerfile")
	dockerfile := browser.Eval[string](t, b, prop(late, "value")) + "RUN echo edited\n"
	setField(t, b, late, dockerfile)

	if got := runScenario(t, b); got != "succeeded" {
		t.Fatalf("run %s: %s", got, browser.Eval[string](t, b, text(tid("run-error"))))
	}
	b.Screenshot(t, "compare-stub-build-arg")

	type build struct {
		NoCache           bool
		Release, Target   string
		Notes, Dockerfile string
		Extra             bool
	}
	var got []build
	for _, spec := range w.builds() {
		_, extra := spec.Files["extra.txt"]
		got = append(got, build{spec.Options.NoCache, spec.BuildArgs["RELEASE"], spec.Target,
			string(spec.Files["notes.txt"]), string(spec.Files["Dockerfile"]), extra})
	}
	first := browser.Eval[string](t, b, prop(`[data-variant="arg-first"] `+
		tid("variant-dockerfile"), "value"))
	edited := notes + "Counted the notes once more.\n"
	want := []build{
		{true, "1", "", notes, first, false},
		{false, "3", "stage-0", edited, first, false},
		{true, "1", "", notes, dockerfile, false},
		{false, "3", "stage-0", edited, dockerfile, false},
	}
	if !slices.Equal(got, want) {
		t.Errorf("builds\n got %+v\nwant %+v", got, want)
	}

	// notes.txt changed, so the COPY that takes it is the first miss in both.
	stats := browser.Eval[pageStats](t, b, `window.layerlab.stats()`)
	r, _ := runs.Get(stats.RunID)
	checkRows(t, b, r.State().Comparison, []string{
		"arg-first: COPY notes.txt /srv/notes.txt",
		"arg-late: COPY notes.txt /srv/notes.txt",
	})
	b.CheckNoErrors(t)
}

// TestCompareBuildArgLesson runs the build-arg example as it comes: the new
// release reruns the slow step only where ARG is declared above it.
func TestCompareBuildArgLesson(t *testing.T) {
	w := &cacheWorker{}
	runs, b := startCompare(t, w, "build-arg")
	if got := runScenario(t, b); got != "succeeded" {
		t.Fatalf("run %s", got)
	}
	stats := browser.Eval[pageStats](t, b, `window.layerlab.stats()`)
	r, _ := runs.Get(stats.RunID)
	checkRows(t, b, r.State().Comparison, []string{
		"arg-first: RUN sleep 2 && wc -l < /srv/notes.txt > /srv/notes.count",
		`arg-late: RUN echo "tally release $RELEASE" > /srv/release`,
	})
	slow := browser.Eval[[]string](t, b, `Array.from(Array.from(document.querySelectorAll('`+
		tid("row")+`')).find((tr) => tr.innerText.includes('RUN sleep 2'))
		.querySelectorAll('`+tid("cell")+`'), (td) => td.dataset.state + ' ' +
			td.querySelector('`+tid("cell-kind")+`').textContent)`)
	want := []string{"rerun a build arg changed", "cached nothing it depends on changed"}
	if !slices.Equal(slow, want) {
		t.Errorf("the slow step's cells %q, want %q", slow, want)
	}
	b.CheckNoErrors(t)
}

// TestCompareShowsFailure breaks the first variant's cold build: the other
// variant still runs, and the page says which build failed and why.
func TestCompareShowsFailure(t *testing.T) {
	w := &cacheWorker{}
	_, b := startCompare(t, w, "copy-order")
	setField(t, b, `[data-variant="copy-all-first"] `+tid("variant-dockerfile"),
		"FROM busybox\nWORKDIR /app\nRUN exit 3\n")
	if got := runScenario(t, b); got != "failed" {
		t.Fatalf("run %s, want failed", got)
	}
	b.Screenshot(t, "compare-stub-failed")

	first, second := `[data-variant="copy-all-first"] `, `[data-variant="deps-first"] `
	check(t, b, map[string]string{
		text(tid("run-error-title")): "Not every variant built",
		text(tid("run-error-message")): "Everything first, cold build: RUN exit 3 (line 3) " +
			"failed: exit code: 3",
		prop(tid("results"), "hidden"):                             "false",
		prop(first+tid("variant-status"), "textContent"):           "failed",
		prop(second+tid("variant-status"), "textContent"):          "done",
		prop(tid("run-button"), "disabled"):                        "false",
		count(first + `[data-phase="rebuild"] ` + tid("run-step")): "0",
		prop(first+tid("marked"), "hidden"):                        "true",
	})
	failed := browser.Eval[string](t, b, flat(first+`[data-phase="cold"] [data-state="failed"]`))
	if got := timeless(failed); got != "RUN exit 3 failed TIME exit code: 3" {
		t.Errorf("the failed step reads %q", failed)
	}
	b.CheckNoErrors(t)
}

// TestCompareRefusals: what the page refuses itself, and what the server
// refuses, are said next to the Run button or in the run's box.
func TestCompareRefusals(t *testing.T) {
	w := &cacheWorker{}
	_, b := startCompare(t, w, "copy-order")
	for _, box := range []string{"copy-all-first", "deps-first"} {
		b.Do(t, 10*time.Second, chromedp.Click(chromedp.CSS(
			`[data-variant="`+box+`"] `+tid("variant-include"))))
	}
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("run-button")))
	check(t, b, map[string]string{
		text(tid("run-form-error")):           "Tick at least one variant to run.",
		prop(tid("run-form-error"), "hidden"): "false",
		prop(tid("run"), "hidden"):            "true",
	})

	b.Do(t, 10*time.Second, chromedp.Click(chromedp.CSS(
		`[data-variant="deps-first"] `+tid("variant-include"))))
	setField(t, b, tid("change-path"), "")
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("run-button")))
	check(t, b, map[string]string{
		text(tid("run-form-error")): "Name the file whose content the change sets.",
	})

	setField(t, b, tid("change-path"), "../outside.sh")
	if got := runScenario(t, b); got != "failed" {
		t.Fatalf("run %s, want failed", got)
	}
	check(t, b, map[string]string{
		prop(tid("run-form-error"), "hidden"): "true",
		text(tid("run-error-title")):          "The server refused the run",
		text(tid("run-error-message")): `Variant deps-first after the changes: ` +
			`file name "../outside.sh" has a .. segment; ` +
			"context paths stay inside the build context and name no parent folder",
		prop(tid("run-variants"), "hidden"): "true",
		prop(tid("results"), "hidden"):      "true",
	})
	if n := len(w.builds()); n != 0 {
		t.Errorf("the worker was asked for %d builds, want none", n)
	}
	b.CheckNoErrors(t)
}
