package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/e2e/browser"
	"github.com/layerlab/layerlab/examples"
	"github.com/layerlab/layerlab/internal/labtest"
)

// catalogVariant is a variant of a built-in example.
func catalogVariant(t *testing.T, example, variant string) examples.Variant {
	t.Helper()
	catalog, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, ok := catalog.Get(example)
	if !ok {
		t.Fatalf("no example %q", example)
	}
	v, ok := e.Variant(variant)
	if !ok {
		t.Fatalf("example %s has no variant %q", example, variant)
	}
	return v
}

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
	// Bars are where the stages' bars end on the chart's common scale of
	// 1000, by stage name. (A segment too thin to see is drawn 2 wide, so a
	// bar may end a little past its true length.)
	Bars map[string]float64
}

// buildAndReadCard builds a variant of an example on the real worker and
// reads the report card once the build has ended. A variant that runs npm
// ci is first made to trust this machine's CAs, through the lab's file list
// and editor as a person would (see labtest.TrustMachineCAs).
func buildAndReadCard(t *testing.T, example, variant, shot string) card {
	t.Helper()
	b := openLab(t, "?example="+example+"&variant="+variant)
	if v := catalogVariant(t, example, variant); slices.Contains(v.Needs, examples.NeedNPM) {
		adapted, err := labtest.TrustMachineCAs(v.Files, v.Dockerfile)
		if err != nil {
			t.Fatal(err)
		}
		b.Do(t, 10*time.Second,
			chromedp.SetValue(browser.ByTestID("file-add-input"), labtest.CAFile),
			chromedp.Click(browser.ByTestID("file-add")),
			chromedp.WaitVisible(chromedp.CSS(`[data-path="`+labtest.CAFile+`"]`)),
		)
		b.SetEditor(t, adapted[labtest.CAFile])
		b.Do(t, 10*time.Second,
			chromedp.Click(chromedp.CSS(`[data-path="`+v.Dockerfile+`"] `+browser.TestID("file-open"))),
		)
		b.SetEditor(t, adapted[v.Dockerfile])
	}
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
			bars[li.dataset.stage] = Array.from(li.querySelectorAll('rect.size-seg')).reduce(
				(end, r) => Math.max(end, Number(r.getAttribute('x')) + Number(r.getAttribute('width'))), 0);
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
		keptOut                []string // the multi-stage variant's stages left behind
		widest                 string   // the biggest of them
	}{
		{"multi-stage", "single-stage", "multi-stage", []string{"build"}, "build"},
		// go vet, go test and go build run in the build.
		{"go-service", "golang-image", "scratch", []string{"build"}, "build"},
		// The slowest pair: npm ci and next build run in both variants. The
		// deps stage outweighs the builder: it keeps npm's download cache.
		{"nextjs", "single-stage", "standalone", []string{"deps", "builder"}, "deps"},
	}
	for _, p := range pairs {
		t.Run(p.example, func(t *testing.T) {
			single := buildAndReadCard(t, p.example, p.single, "e2e-sizes-"+p.example+"-single")
			multi := buildAndReadCard(t, p.example, p.multi, "e2e-sizes-"+p.example+"-multi")

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
			var keptOut []string
			for _, k := range multi.KeptOut {
				name, _, _ := strings.Cut(k, " ")
				keptOut = append(keptOut, name)
			}
			if !slices.Equal(keptOut, p.keptOut) || multi.SavedBytes <= 0 || multi.SavedText == "0 B" {
				t.Fatalf("multi-stage build kept out %q, saved %d (%q): want the stages %q "+
					"and the bytes they saved", multi.KeptOut, multi.SavedBytes, multi.SavedText,
					p.keptOut)
			}

			// On the chart's common scale the biggest left-behind stage
			// fills the bar and the shipped image's bar is shorter.
			if got := multi.Bars[p.widest]; got < 999 || multi.Bars[multi.Stage] >= got {
				t.Errorf("bars %v: want %s at full width and %s shorter",
					multi.Bars, p.widest, multi.Stage)
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
