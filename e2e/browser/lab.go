package browser

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// This file reads and drives the lab page through its data-testid
// attributes, for the script tests in static/ and the end-to-end tests.

// Prop is a script expression for a property of the first element that
// matches css, as a string: "undefined" when no element matches.
func Prop(css, prop string) string {
	return "String(document.querySelector('" + css + "')?." + prop + ")"
}

// Text is Prop(css, "textContent").
func Text(css string) string { return Prop(css, "textContent") }

// TestID is the CSS selector of a data-testid value.
func TestID(id string) string { return `[data-testid="` + id + `"]` }

// SetEditor replaces the text of the lab's editor the way typing would,
// so the page's input handler sees it.
func (b *Browser) SetEditor(t testing.TB, text string) {
	t.Helper()
	quoted, err := json.Marshal(text)
	if err != nil {
		t.Fatal(err)
	}
	Eval[bool](t, b, `(() => {
		const ed = document.querySelector('`+TestID("editor")+`');
		ed.value = `+string(quoted)+`;
		ed.dispatchEvent(new Event('input'));
		return true;
	})()`)
}

// Status is the lab's build status: idle, sending, queued, running,
// succeeded or failed.
func (b *Browser) Status(t testing.TB) string {
	t.Helper()
	return Eval[string](t, b, `document.querySelector('`+TestID("build-status")+`').dataset.status`)
}

// Build presses Build and waits up to timeout for the build to end, and
// then for the rest of its stream: a successful build's sizes come after
// its result. It returns the final status.
func (b *Browser) Build(t testing.TB, timeout time.Duration) string {
	t.Helper()
	b.Do(t, 10*time.Second, chromedp.Click(ByTestID("build-button")))
	b.WaitStatus(t, timeout, "succeeded", "failed")
	b.WaitStreamEnd(t, timeout)
	return b.Status(t)
}

// WaitStreamEnd waits until the page expects no more events of its build:
// the server closed the stream after the last one, or the page gave up. A
// build the server refused has no stream at all.
func (b *Browser) WaitStreamEnd(t testing.TB, timeout time.Duration) {
	t.Helper()
	b.WaitFor(t, timeout, "the end of the build's event stream",
		`((s) => s.ended || s.buildId === '')(window.layerlab.stats())`)
}

// WaitStatus waits until the build status is one of statuses.
func (b *Browser) WaitStatus(t testing.TB, timeout time.Duration, statuses ...string) {
	t.Helper()
	want, err := json.Marshal(statuses)
	if err != nil {
		t.Fatal(err)
	}
	b.WaitFor(t, timeout, "build status in "+string(want), string(want)+
		`.includes(document.querySelector('`+TestID("build-status")+`').dataset.status)`)
}

// Step is what the lab shows of one step.
type Step struct {
	ID          string
	Stage       string // the stage section it is listed under; "" for internal steps
	Index       string // "2/5"
	Instruction string
	State       string
	Cached      bool
	Duration    string
	Log         string
	Open        bool // its log is expanded
}

// Steps reads the step list in page order.
func (b *Browser) Steps(t testing.TB) []Step {
	t.Helper()
	return Eval[[]Step](t, b, `Array.from(document.querySelectorAll('`+TestID("step")+`'))
		.map((li) => {
			const part = (id) => li.querySelector('[data-testid="' + id + '"]');
			const stage = li.closest('`+TestID("stage")+`');
			return {
				id: li.dataset.stepId,
				stage: stage.classList.contains('is-internal') ? '' : stage.dataset.stage,
				index: part('step-index').textContent,
				instruction: part('step-instruction').textContent,
				state: li.dataset.state,
				cached: !part('step-cached').hidden,
				duration: part('step-duration').textContent,
				log: part('step-log').textContent,
				open: li.querySelector('details').open,
			};
		})`)
}

// LabStats are the counters the lab's script keeps of its event stream.
type LabStats struct {
	BuildID  string
	Events   int // events applied
	Repeats  int // events dropped as already seen
	Connects int // sockets opened
	LastSeq  int
	Ended    bool // no more events will come
}

// Stats reads the lab's stream counters.
func (b *Browser) Stats(t testing.TB) LabStats {
	t.Helper()
	return Eval[LabStats](t, b, `window.layerlab.stats()`)
}

// DropConnection closes the lab's socket as a network failure would.
func (b *Browser) DropConnection(t testing.TB) {
	t.Helper()
	Eval[bool](t, b, `(window.layerlab.dropConnection(), true)`)
}

// MarkedLines lists the editor's gutter lines that carry the kind of mark,
// "error" or "warning".
func (b *Browser) MarkedLines(t testing.TB, kind string) []string {
	t.Helper()
	return Eval[[]string](t, b, `Array.from(document.querySelectorAll('.gutter-line.is-`+kind+`'))
		.map((d) => d.textContent)`)
}
