// Package e2e drives layerlab as a person would: headless Chromium against
// the whole server, started in-process on a loopback port with a real
// managed buildkitd and the local image mirror seeded with busybox, debian,
// golang and node. A missing browser, buildkitd or runc fails the tests.
package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/layerlab/layerlab/e2e/browser"
	"github.com/layerlab/layerlab/internal/labtest"
)

func TestMain(m *testing.M) {
	labtest.Main(m, labtest.Options{Images: []string{"busybox", "debian", "golang", "node"}})
}

// buildTimeout bounds one build on the real worker, pulls from the mirror
// included; on this kind of machine they take seconds.
const buildTimeout = 8 * time.Minute

// openLab starts a browser on a lab page of the shared server.
func openLab(t *testing.T, query string) *browser.Browser {
	t.Helper()
	b := browser.Start(t)
	b.Do(t, 20*time.Second,
		chromedp.Navigate(labtest.App(t).URL()+"/lab"+query),
		chromedp.WaitVisible(browser.ByTestID("build-button")),
	)
	return b
}

// build presses Build, waits for the result and returns the Dockerfile's
// steps, the worker's internal ones left out.
func build(t *testing.T, b *browser.Browser, want string) []browser.Step {
	t.Helper()
	if got := b.Build(t, buildTimeout); got != want {
		msg := browser.Eval[string](t, b, browser.Prop(browser.TestID("build-error"),
			`innerText.replace(/\s+/g, " ")`))
		t.Fatalf("build %s, want %s: %s", got, want, msg)
	}
	return slices.DeleteFunc(b.Steps(t), func(s browser.Step) bool { return s.Stage == "" })
}

func stepByInstruction(t *testing.T, steps []browser.Step, instruction string) browser.Step {
	t.Helper()
	for _, s := range steps {
		if s.Instruction == instruction {
			return s
		}
	}
	t.Fatalf("no step %q among %+v", instruction, steps)
	return browser.Step{}
}

// TestCopyOrderLesson walks the gallery into the COPY-order example, builds
// it, makes the example's change and builds again: the slow install must
// stay cached and only the last COPY run again.
func TestCopyOrderLesson(t *testing.T) {
	b := browser.Start(t)
	card := `[data-example="copy-order"] `
	b.Do(t, 20*time.Second,
		chromedp.Navigate(labtest.App(t).URL()+"/"),
		chromedp.WaitVisible(browser.ByTestID("gallery")),
		chromedp.Click(chromedp.CSS(card+browser.TestID("example-open"))),
		chromedp.WaitVisible(browser.ByTestID("build-button")),
		chromedp.Click(chromedp.CSS(`[data-variant="deps-first"]`+browser.TestID("variant-tab"))),
		chromedp.WaitVisible(chromedp.CSS(`[data-variant="deps-first"][aria-current="page"]`)),
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
			t.Errorf("second build: %q cached=%v, want %v (%+v)",
				c.instruction, s.Cached, c.cached, s)
		}
	}
	b.CheckNoErrors(t)
}

// TestMultiStageTarget builds the two-stage example up to its build stage:
// the runtime stage must be marked skipped.
func TestMultiStageTarget(t *testing.T) {
	b := openLab(t, "?example=multi-stage&variant=multi-stage")
	b.Do(t, 10*time.Second, chromedp.SendKeys(browser.ByTestID("target-input"), "build"))

	steps := build(t, b, "succeeded")
	b.Screenshot(t, "e2e-multi-stage-target")
	for _, s := range steps {
		if s.Stage != "build" {
			t.Errorf("step %+v ran, but the target needs only the build stage", s)
		}
	}
	stepByInstruction(t, steps, "RUN sh build.sh && sh tests/run.sh")
	skipped := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll('`+
		browser.TestID("stage")+`')).filter((s) => !s.querySelector('`+
		browser.TestID("stage-skipped")+`').hidden).map((s) => s.dataset.stage)`)
	if !slices.Equal(skipped, []string{"runtime"}) {
		t.Errorf("skipped stages %q, want [runtime]", skipped)
	}
	b.CheckNoErrors(t)
}

// TestFailedStepMarksLine breaks a RUN line of the Dockerfile: the build
// fails, and the editor marks the line.
func TestFailedStepMarksLine(t *testing.T) {
	b := openLab(t, "?example=copy-order&variant=copy-all-first")
	b.SetEditor(t, "FROM busybox\nWORKDIR /app\nRUN echo about to fail\n"+
		"RUN echo failing >&2 && exit 3\n")

	steps := build(t, b, "failed")
	b.Screenshot(t, "e2e-failed-line")
	failed := stepByInstruction(t, steps, "RUN echo failing >&2 && exit 3")
	if failed.State != "failed" || failed.Log != "failing\n" || !failed.Open {
		t.Errorf("the failing RUN shows as %+v; want failed, open, with its log", failed)
	}
	if marked := b.MarkedLines(t, "error"); !slices.Equal(marked, []string{"4"}) {
		t.Errorf("lines marked as failed: %q, want [4]", marked)
	}
	b.CheckNoErrors(t)
}

// TestReconnectMidBuild drops the page's socket while the real worker runs
// the slow step: the page must reconnect with ?after= and end up with every
// event of the build exactly once.
func TestReconnectMidBuild(t *testing.T) {
	b := openLab(t, "?example=copy-order&variant=copy-all-first")
	// A fresh command, so that no earlier build left it cached.
	slow := "RUN echo before && sleep 2 && echo after-" + time.Now().Format("150405.000")
	b.SetEditor(t, "FROM busybox\n"+slow+"\n")

	b.Do(t, 10*time.Second, chromedp.Click(browser.ByTestID("build-button")))
	b.WaitFor(t, buildTimeout, "the slow step to run",
		browser.Text(`[data-state="running"] `+browser.TestID("step-index"))+` === '2/2'`)
	b.DropConnection(t)
	b.WaitStatus(t, buildTimeout, "succeeded")
	b.WaitStreamEnd(t, buildTimeout)

	got := b.Stats(t)
	run, ok := labtest.App(t).Runner().Get(got.BuildID)
	if !ok {
		t.Fatalf("the server has no build %q", got.BuildID)
	}
	n := run.Events.Len()
	if got.Connects < 2 || got.Events != n || got.LastSeq != n || got.Repeats != 0 {
		t.Errorf("page stats %+v; want 2 or more connections, %d events, last seq %d, "+
			"no repeats", got, n, n)
	}
	steps := slices.DeleteFunc(b.Steps(t), func(s browser.Step) bool { return s.Stage == "" })
	if len(steps) != 2 {
		t.Fatalf("%d steps on the page, want 2: %+v", len(steps), steps)
	}
	if log := stepByInstruction(t, steps, slow).Log; strings.Count(log, "before\n") != 1 ||
		strings.Count(log, "after-") != 1 {
		t.Errorf("slow step's log %q: want each line once", log)
	}
	b.CheckNoErrors(t)
}

// TestLintWarningMarksLine builds a Dockerfile that BuildKit's linter
// complains about: the warning is listed with its line, and the editor
// marks the line.
func TestLintWarningMarksLine(t *testing.T) {
	b := openLab(t, "?example=copy-order")
	b.SetEditor(t, "FROM busybox AS base\nRUN echo hi > /hi\n\n"+
		"FROM busybox AS Final\nCOPY --from=base /hi /hi\n")
	build(t, b, "succeeded")
	b.Screenshot(t, "e2e-lint-warning")

	got := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll('`+
		browser.TestID("warning")+`')).map((w) => w.innerText.replace(/\s+/g, ' '))`)
	want := []string{"StageNameCasing Stage name 'Final' should be lowercase line 4"}
	if !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
	if marked := b.MarkedLines(t, "warning"); !slices.Equal(marked, []string{"4"}) {
		t.Errorf("lines marked with a warning: %q, want [4]", marked)
	}
	b.CheckNoErrors(t)
}
