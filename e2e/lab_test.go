// Package e2e drives layerlab as a person would: headless Chromium against
// the whole server, started in-process on a loopback port with a real
// managed buildkitd and the local image mirror seeded with busybox and
// debian. A missing browser, buildkitd or runc fails the tests.
package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/layerlab/layerlab/e2e/browser"
	"github.com/layerlab/layerlab/internal/labtest"
)

func TestMain(m *testing.M) {
	labtest.Main(m, labtest.Options{Images: []string{"busybox", "debian"}})
}

// buildTimeout bounds one build on the real worker, pulls from the mirror
// included; on this kind of machine they take seconds.
const buildTimeout = 3 * time.Minute

const statusIs = `document.querySelector('[data-testid="build-status"]').dataset.status === `

// stepRow is what the lab shows of one step.
type stepRow struct {
	Stage       string
	Instruction string
	State       string
	Cached      bool
	Duration    string
}

const readSteps = `Array.from(document.querySelectorAll('[data-testid="step"]'))
	.filter((li) => !li.closest('.is-internal'))
	.map((li) => ({
		stage: li.closest('[data-testid="stage"]').dataset.stage,
		instruction: li.querySelector('[data-testid="step-instruction"]').textContent,
		state: li.dataset.state,
		cached: !li.querySelector('[data-testid="step-cached"]').hidden,
		duration: li.querySelector('[data-testid="step-duration"]').textContent,
	}))`

func stepByInstruction(t *testing.T, steps []stepRow, instruction string) stepRow {
	t.Helper()
	for _, s := range steps {
		if s.Instruction == instruction {
			return s
		}
	}
	t.Fatalf("no step %q among %+v", instruction, steps)
	return stepRow{}
}

// build presses Build and waits for the result.
func build(t *testing.T, b *browser.Browser, want string) []stepRow {
	t.Helper()
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("build-button")))
	b.WaitFor(t, buildTimeout, "the build to end", statusIs+`'succeeded' || `+statusIs+`'failed'`)
	status := browser.Eval[string](t, b, `document.querySelector('[data-testid="build-status"]').dataset.status`)
	if status != want {
		msg := browser.Eval[string](t, b, `document.querySelector('[data-testid="build-error"]').innerText`)
		t.Fatalf("build %s, want %s: %s", status, want, msg)
	}
	return browser.Eval[[]stepRow](t, b, readSteps)
}

// TestCopyOrderLesson walks the gallery into the COPY-order example, builds
// it, makes the example's change and builds again: the slow install must
// stay cached and only the last COPY run again.
func TestCopyOrderLesson(t *testing.T) {
	a := labtest.App(t)
	b := browser.Start(t)

	b.Do(t, 20*time.Second,
		chromedp.Navigate(a.URL()+"/"),
		chromedp.WaitVisible(browser.ByTestID("gallery")),
		chromedp.Click(chromedp.CSS(`[data-example="copy-order"] [data-testid="variant-link"]:nth-of-type(1)`)),
		chromedp.WaitVisible(browser.ByTestID("build-button")),
		chromedp.Click(chromedp.CSS(`[data-testid="variant-tab"][data-variant="deps-first"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="variant-tab"][data-variant="deps-first"][aria-current="page"]`)),
	)

	first := build(t, b, "succeeded")
	b.Screenshot(t, "e2e-copy-order-first")
	install := "RUN sleep 2 && mkdir -p vendor && cp deps.lock vendor/installed.lock"
	if len(first) != 5 {
		t.Errorf("first build shows %d steps, want 5: %+v", len(first), first)
	}
	for _, s := range first {
		if s.Stage != "stage-0" || (s.State != "done" && s.State != "cached") {
			t.Errorf("first build: step %+v, want stage-0, done or cached", s)
		}
	}
	if s := stepByInstruction(t, first, install); s.State != "done" || s.Cached {
		t.Errorf("first build ran the install as %+v, want done", s)
	}

	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("scenario-apply")))
	second := build(t, b, "succeeded")
	b.Screenshot(t, "e2e-copy-order-second")
	checks := []struct {
		instruction string
		cached      bool
	}{
		{"COPY deps.lock ./", true},
		{install, true},
		{"COPY . .", false},
	}
	for _, c := range checks {
		if s := stepByInstruction(t, second, c.instruction); s.Cached != c.cached {
			t.Errorf("second build: %q cached=%v, want %v (%+v)", c.instruction, s.Cached, c.cached, s)
		}
	}
	b.CheckNoErrors(t)
}

// TestMultiStageTarget builds the two-stage example up to its build stage:
// the runtime stage must be marked skipped.
func TestMultiStageTarget(t *testing.T) {
	a := labtest.App(t)
	b := browser.Start(t)
	b.Do(t, 20*time.Second,
		chromedp.Navigate(a.URL()+"/lab?example=multi-stage&variant=multi-stage"),
		chromedp.WaitVisible(browser.ByTestID("build-button")),
		chromedp.SendKeys(browser.ByTestID("target-input"), "build"),
	)
	steps := build(t, b, "succeeded")
	b.Screenshot(t, "e2e-multi-stage-target")
	for _, s := range steps {
		if s.Stage != "build" {
			t.Errorf("step %+v ran, but the target needs only the build stage", s)
		}
	}
	stepByInstruction(t, steps, "RUN sh build.sh && sh tests/run.sh")
	skipped := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll('[data-testid="stage"]'))
		.filter((s) => !s.querySelector('[data-testid="stage-skipped"]').hidden)
		.map((s) => s.dataset.stage)`)
	if len(skipped) != 1 || skipped[0] != "runtime" {
		t.Errorf("skipped stages %q, want [runtime]", skipped)
	}
	b.CheckNoErrors(t)
}

// TestFailedStepMarksLine breaks a RUN line of the Dockerfile: the build
// fails, and the editor marks the line.
func TestFailedStepMarksLine(t *testing.T) {
	a := labtest.App(t)
	b := browser.Start(t)
	b.Do(t, 20*time.Second,
		chromedp.Navigate(a.URL()+"/lab?example=copy-order&variant=copy-all-first"),
		chromedp.WaitVisible(browser.ByTestID("build-button")),
	)
	browser.Eval[bool](t, b, `(() => {
		const ed = document.querySelector('[data-testid="editor"]');
		ed.value = 'FROM busybox\nWORKDIR /app\nRUN echo about to fail\nRUN echo failing >&2 && exit 3\n';
		ed.dispatchEvent(new Event('input'));
		return true;
	})()`)

	steps := build(t, b, "failed")
	b.Screenshot(t, "e2e-failed-line")
	if s := stepByInstruction(t, steps, "RUN echo failing >&2 && exit 3"); s.State != "failed" {
		t.Errorf("the failing RUN shows as %+v", s)
	}
	marked := browser.Eval[[]string](t, b,
		`Array.from(document.querySelectorAll('.gutter-line.is-error')).map((d) => d.textContent)`)
	if len(marked) != 1 || marked[0] != "4" {
		t.Errorf("lines marked as failed: %q, want [4]", marked)
	}
	log := browser.Eval[string](t, b, `Array.from(document.querySelectorAll('[data-state="failed"] [data-testid="step-log"]'))
		.map((p) => p.textContent).join('')`)
	if log != "failing\n" {
		t.Errorf("failed step's log %q, want %q", log, "failing\n")
	}
	b.CheckNoErrors(t)
}

// TestReconnectMidBuild drops the page's socket while the real worker runs
// the slow step: the page must reconnect with ?after= and end up with every
// event of the build exactly once.
func TestReconnectMidBuild(t *testing.T) {
	a := labtest.App(t)
	b := browser.Start(t)
	b.Do(t, 20*time.Second,
		chromedp.Navigate(a.URL()+"/lab?example=copy-order&variant=copy-all-first"),
		chromedp.WaitVisible(browser.ByTestID("build-button")),
	)
	// A fresh command, so that no earlier test left it cached.
	browser.Eval[bool](t, b, `(() => {
		const ed = document.querySelector('[data-testid="editor"]');
		ed.value = 'FROM busybox\nRUN echo before && sleep 2 && echo after-' + Date.now() + '\n';
		ed.dispatchEvent(new Event('input'));
		return true;
	})()`)
	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("build-button")))
	b.WaitFor(t, buildTimeout, "the slow step to run",
		`document.querySelector('[data-testid="step"][data-state="running"] [data-testid="step-index"]')?.textContent === '2/2'`)
	browser.Eval[bool](t, b, `(window.layerlab.dropConnection(), true)`)
	b.WaitFor(t, buildTimeout, "the build to succeed", statusIs+`'succeeded'`)

	type stats struct {
		Events, Repeats, Connects, LastSeq int
		BuildID                            string
	}
	got := browser.Eval[stats](t, b, `window.layerlab.stats()`)
	run, ok := a.Runner().Get(got.BuildID)
	if !ok {
		t.Fatalf("the server has no build %q", got.BuildID)
	}
	n := run.Events.Len()
	if got.Connects < 2 || got.Events != n || got.LastSeq != n || got.Repeats != 0 {
		t.Errorf("page stats %+v; want 2 or more connections, %d events, last seq %d, no repeats", got, n, n)
	}
	steps := browser.Eval[[]stepRow](t, b, readSteps)
	if len(steps) != 2 {
		t.Errorf("%d steps on the page, want 2: %+v", len(steps), steps)
	}
	log := browser.Eval[string](t, b, `document.querySelector(
		'[data-stage="stage-0"] [data-testid="step"]:last-child [data-testid="step-log"]').textContent`)
	if strings.Count(log, "before\n") != 1 || strings.Count(log, "after-") != 1 {
		t.Errorf("slow step's log %q: want each line once", log)
	}
	b.CheckNoErrors(t)
}

// TestLintWarningMarksLine builds a Dockerfile that BuildKit's linter
// complains about: the warning is listed with its line, and the editor
// marks the line.
func TestLintWarningMarksLine(t *testing.T) {
	a := labtest.App(t)
	b := browser.Start(t)
	b.Do(t, 20*time.Second,
		chromedp.Navigate(a.URL()+"/lab?example=copy-order"),
		chromedp.WaitVisible(browser.ByTestID("build-button")),
	)
	browser.Eval[bool](t, b, `(() => {
		const ed = document.querySelector('[data-testid="editor"]');
		ed.value = 'FROM busybox AS base\nRUN echo hi > /hi\n\nFROM busybox AS Final\nCOPY --from=base /hi /hi\n';
		ed.dispatchEvent(new Event('input'));
		return true;
	})()`)
	build(t, b, "succeeded")
	b.Screenshot(t, "e2e-lint-warning")

	type warning struct{ Rule, Line string }
	got := browser.Eval[[]warning](t, b, `Array.from(document.querySelectorAll('[data-testid="warning"]'))
		.map((w) => ({
			rule: w.querySelector('[data-testid="warning-rule"]').textContent,
			line: w.querySelector('[data-testid="warning-line"]').textContent,
		}))`)
	if len(got) != 1 || got[0] != (warning{Rule: "StageNameCasing", Line: "line 4"}) {
		t.Errorf("warnings %+v, want StageNameCasing on line 4", got)
	}
	marked := browser.Eval[[]string](t, b,
		`Array.from(document.querySelectorAll('.gutter-line.is-warning')).map((d) => d.textContent)`)
	if len(marked) != 1 || marked[0] != "4" {
		t.Errorf("lines marked with a warning: %q, want [4]", marked)
	}
	b.CheckNoErrors(t)
}
