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

// comparedStep is what the compare page shows of a step of a rebuild.
type comparedStep struct {
	Instruction string
	State       string // done, cached or failed
	FirstMiss   bool
	Reason      string
}

// TestCompareCopyOrder runs the COPY-order example's scenario from the
// compare page on the real worker: both orders built cold, app/main.sh
// edited, both rebuilt. The bad order must rerun more steps and lose about
// the two seconds of its install; the good order's dependency steps must
// show as cached with their reasons; in both the first miss is the COPY
// that takes the edited file.
func TestCompareCopyOrder(t *testing.T) {
	b := browser.Start(t)
	b.Do(t, 20*time.Second,
		chromedp.Navigate(labtest.App(t).URL()+"/lab?example=copy-order"),
		chromedp.WaitVisible(browser.ByTestID("compare-link")),
		chromedp.Click(browser.ByTestID("compare-link")),
		chromedp.WaitVisible(browser.ByTestID("run-button")),
		chromedp.Click(browser.ByTestID("run-button")),
	)
	b.WaitFor(t, buildTimeout, "the cold build's steps to show",
		`document.querySelectorAll('[data-phase="cold"] [data-testid="run-step"]').length > 0`)
	b.Screenshot(t, "e2e-compare-running")
	b.WaitFor(t, 2*buildTimeout, "the end of the run", `window.layerlab.stats().ended`)
	status := browser.Eval[string](t, b, browser.Prop(browser.TestID("run-status"),
		"dataset.status"))
	if status != "succeeded" {
		t.Fatalf("run %s: %s", status, browser.Eval[string](t, b,
			browser.Text(browser.TestID("run-error-message"))))
	}
	b.Screenshot(t, "e2e-compare-copy-order")

	figure := func(metric, variant string) int64 {
		return browser.Eval[int64](t, b, `Number(document.querySelector('[data-metric="`+metric+
			`"] [data-variant="`+variant+`"] [data-testid="summary-value"]').dataset.value)`)
	}
	bad, good := "copy-all-first", "deps-first"
	if figure("rerun", bad) <= figure("rerun", good) {
		t.Errorf("steps rerun: %s %d, %s %d; want the bad order to rerun more",
			bad, figure("rerun", bad), good, figure("rerun", good))
	}
	// The install sleeps 2 s; the bad order runs it again, the good one not.
	lost := figure("rebuild", bad) - figure("rebuild", good)
	if lost < 1500 || lost > 4000 {
		t.Errorf("the bad order's rebuild took %d ms longer than the good one's; want about 2 s",
			lost)
	}
	delta := browser.Eval[string](t, b, browser.Text(`[data-metric="rebuild"] [data-variant="`+
		good+`"] `+browser.TestID("summary-delta")))
	if !strings.HasPrefix(delta, "−") {
		t.Errorf("the good order's rebuild delta reads %q, want a saving", delta)
	}

	steps := func(variant string) []comparedStep {
		return browser.Eval[[]comparedStep](t, b, `Array.from(document.querySelectorAll(
			'[data-variant="`+variant+`"] [data-phase="rebuild"] [data-testid="run-step"]'),
			(li) => ({
				instruction: li.querySelector('[data-testid="run-step-instruction"]').textContent,
				state: li.dataset.state,
				firstMiss: !li.querySelector('[data-testid="run-step-first-miss"]').hidden,
				reason: li.querySelector('[data-testid="run-step-reason"]').textContent,
			}))`)
	}
	install := "RUN sleep 2 && mkdir -p vendor && cp deps.lock vendor/installed.lock"
	tests := []struct {
		variant, instruction, state string
		firstMiss                   bool
		reason                      string
	}{
		{good, "COPY deps.lock ./", "cached", false, "Nothing it depends on changed."},
		{good, install, "cached", false, "BuildKit reuses a RUN by its command text"},
		{good, "COPY . .", "done", true, "A file it copies changed: app/main.sh."},
		{bad, "COPY . .", "done", true, "A file it copies changed: app/main.sh."},
		{bad, install, "done", false, "An earlier step of its stage reran: COPY . . (line 4)"},
	}
	for _, tt := range tests {
		list := steps(tt.variant)
		i := slices.IndexFunc(list, func(s comparedStep) bool { return s.Instruction == tt.instruction })
		if i < 0 {
			t.Errorf("%s: no step %q among %+v", tt.variant, tt.instruction, list)
			continue
		}
		s := list[i]
		if s.State != tt.state || s.FirstMiss != tt.firstMiss || !strings.Contains(s.Reason, tt.reason) {
			t.Errorf("%s: %+v; want %s, first miss %v, a reason with %q", tt.variant, s,
				tt.state, tt.firstMiss, tt.reason)
		}
	}
	// One first miss per variant, in the aligned table too.
	marked := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll(
		'.cell.is-first-miss'), (td) => td.dataset.variant + ': ' +
		td.closest('tr').querySelector('[data-testid="row-instruction"]').textContent)`)
	if want := []string{bad + ": COPY . .", good + ": COPY . ."}; !slices.Equal(marked, want) {
		t.Errorf("first misses in the table %q, want %q", marked, want)
	}
	line := browser.Eval[string](t, b, `document.querySelector('[data-variant="`+bad+
		`"] [data-mark="first"] .code-text').textContent`)
	if line != "COPY . ." {
		t.Errorf("the marked line of %s's Dockerfile is %q, want COPY . .", bad, line)
	}

	t.Logf("rebuild: %s %d ms, %s %d ms; steps rerun %d and %d", bad, figure("rebuild", bad),
		good, figure("rebuild", good), figure("rerun", bad), figure("rerun", good))
	b.Resize(t, 390, 844)
	b.Screenshot(t, "e2e-compare-copy-order-390")
	b.CheckNoErrors(t)
}
