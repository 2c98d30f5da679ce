package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/e2e/browser"
	"github.com/layerlab/layerlab/internal/labtest"
)

// card is what the lab shows of a build's final image and its stages.
type card struct {
	BuildID         string
	Stage           string
	SizeBytes       int64
	SizeText        string
	CompressedBytes int64
	SavedBytes      int64
	SavedText       string
	KeptOut         []string // "name size" of each stage left behind
	RootWarning     bool
	User            string
	// Bars are the widths of the stages' bars on the chart's common scale
	// of 1000, by stage name.
	Bars map[string]float64
}

// buildAndReadCard builds a variant of an example on the real worker and
// reads the report card once the build has ended.
func buildAndReadCard(t *testing.T, query, shot string) card {
	t.Helper()
	b := openLab(t, query)
	steps := build(t, b, "succeeded")
	b.WaitFor(t, 10*time.Second, "the image card", `!document.querySelector('`+
		browser.TestID("image-card")+`').hidden`)
	b.Screenshot(t, shot)

	// Every step of the Dockerfile gets a size once its stage is measured.
	sizes := browser.Eval[[]string](t, b, `Array.from(document.querySelectorAll('`+
		browser.TestID("stage")+`:not(.is-internal):not(.is-skipped) `+
		browser.TestID("step-size")+`')).map((s) => s.dataset.bytes ?? '')`)
	if len(sizes) != len(steps) || slices.Contains(sizes, "") {
		t.Errorf("step sizes %q for %d steps: want one each", sizes, len(steps))
	}

	c := browser.Eval[card](t, b, `(() => {
		const part = (id) => document.querySelector('[data-testid="' + id + '"]');
		const bars = {};
		for (const li of document.querySelectorAll('`+browser.TestID("size-stage")+`')) {
			bars[li.dataset.stage] = Array.from(li.querySelectorAll('rect.size-seg'))
				.reduce((w, r) => w + Number(r.getAttribute('width')), 0);
		}
		return {
			buildID: window.layerlab.stats().buildId,
			stage: part('image-stage').textContent,
			sizeBytes: Number(part('image-size').dataset.bytes),
			sizeText: part('image-size').textContent,
			compressedBytes: Number(part('image-compressed').dataset.bytes),
			savedBytes: Number(part('image-saved').dataset.bytes),
			savedText: part('image-saved').textContent,
			keptOut: Array.from(document.querySelectorAll('`+browser.TestID("kept-out-stage")+`'),
				(li) => li.innerText.replace(/\s+/g, ' ').trim()),
			rootWarning: !part('image-root-warning').hidden,
			user: part('image-user').textContent,
			bars,
		};
	})()`)

	// The card shows what the server measured.
	run, ok := labtest.App(t).Runner().Get(c.BuildID)
	if !ok {
		t.Fatalf("the server has no build %q", c.BuildID)
	}
	img := run.State().Image
	if img == nil {
		t.Fatalf("build %s has no image report", c.BuildID)
	}
	if c.SizeBytes != img.SizeBytes || c.SizeText != domain.FormatBytes(img.SizeBytes) ||
		c.CompressedBytes != img.CompressedBytes || c.SavedBytes != img.SavedBytes ||
		c.Stage != img.Stage {
		t.Errorf("card %+v does not show the server's report %+v", c, *img)
	}
	b.Resize(t, 390, 844)
	b.Screenshot(t, shot+"-390")
	b.CheckNoErrors(t)
	return c
}

// TestMultiStageShipsLess builds both variants of an example on the real
// worker: the multi-stage image must weigh less than the single-stage one,
// and its card must say what the build stage kept out.
func TestMultiStageShipsLess(t *testing.T) {
	pairs := []struct {
		example, single, multi string
		buildStage             string // the multi-stage variant's stage left behind
	}{
		{"multi-stage", "single-stage", "multi-stage", "build"},
		// The slowest pair: go vet, go test and go build run in the build.
		{"go-service", "golang-image", "scratch", "build"},
	}
	for _, p := range pairs {
		t.Run(p.example, func(t *testing.T) {
			query := "?example=" + p.example + "&variant="
			single := buildAndReadCard(t, query+p.single, "e2e-sizes-"+p.example+"-single")
			multi := buildAndReadCard(t, query+p.multi, "e2e-sizes-"+p.example+"-multi")

			if multi.SizeBytes >= single.SizeBytes ||
				multi.CompressedBytes >= single.CompressedBytes {
				t.Errorf("multi-stage image %d bytes (%d compressed), single-stage %d (%d): "+
					"want the multi-stage one smaller", multi.SizeBytes, multi.CompressedBytes,
					single.SizeBytes, single.CompressedBytes)
			}
			if len(single.KeptOut) != 0 || single.SavedBytes != 0 {
				t.Errorf("single-stage build kept out %q, saved %d: want nothing",
					single.KeptOut, single.SavedBytes)
			}
			if len(multi.KeptOut) != 1 || multi.SavedBytes <= 0 || multi.SavedText == "0 B" {
				t.Fatalf("multi-stage build kept out %q, saved %d (%q): want its %s stage "+
					"and the bytes it saved", multi.KeptOut, multi.SavedBytes, multi.SavedText,
					p.buildStage)
			}
			if name, _, _ := strings.Cut(multi.KeptOut[0], " "); name != p.buildStage {
				t.Errorf("kept out %q, want the %s stage", multi.KeptOut, p.buildStage)
			}

			// On the chart's common scale the left-behind stage fills the
			// bar and the shipped image's bar is shorter.
			if got := multi.Bars[p.buildStage]; got < 999 || multi.Bars[multi.Stage] >= got {
				t.Errorf("bars %v: want %s at full width and %s shorter",
					multi.Bars, p.buildStage, multi.Stage)
			}

			// The single-stage image runs as root; the multi-stage one does not.
			if !single.RootWarning || multi.RootWarning {
				t.Errorf("root warnings: single-stage %v (user %q), multi-stage %v (user %q)",
					single.RootWarning, single.User, multi.RootWarning, multi.User)
			}
			t.Logf("%s: single-stage %s, multi-stage %s, kept out %q, saved %s",
				p.example, single.SizeText, multi.SizeText, multi.KeptOut, multi.SavedText)
		})
	}
}
