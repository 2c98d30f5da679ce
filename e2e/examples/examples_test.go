// Package examples_test builds the gallery's examples through layerlab's API
// on a real managed buildkitd, with the image mirror seeded with every image
// they start from, and checks that each one teaches what it says: the
// builds succeed (or fail where the lesson is the failure), multi-stage
// images are the smaller ones, runtime images run as a user with a health
// check, and the COPY order decides what a source edit rebuilds. The
// project's own Dockerfile is built the same way.
//
// Variants that need Debian's archive or the npm registry are built too:
// RUN steps reach both on layerlab's machines. Those that need Docker Hub
// or PyPI are the online originals and are only checked for their label.
// A missing image, tool or registry fails the tests, never skips them.
package examples_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/examples"
	"github.com/layerlab/layerlab/internal/labtest"
)

func TestMain(m *testing.M) {
	labtest.Main(m, labtest.Options{
		Images: []string{"busybox", "debian", "node", "python", "golang"},
		// Room for the project's own context: its sources and vendored
		// modules are about 8,000 files and 80 MB.
		Limits: domain.Limits{MaxFiles: 12000, MaxContextBytes: 160 << 20},
	})
}

// reachable are the needs a RUN step can meet on layerlab's machines.
var reachable = []examples.Need{examples.NeedDebian, examples.NeedNPM}

// buildsHere reports whether the variant needs nothing this machine lacks.
func buildsHere(v examples.Variant) bool {
	for _, n := range v.Needs {
		if !slices.Contains(reachable, n) {
			return false
		}
	}
	return true
}

// expect is what one variant's build must show.
type expect struct {
	// fail is text the log of a build that must fail contains; empty when
	// the build must succeed.
	fail string
	// log is text the build's log must contain.
	log string
	// user is the final image's USER; empty means it runs as root.
	user string
	// health is set when the final image must have a HEALTHCHECK.
	health bool
	// maxCompressed bounds the final image's compressed size; 0 is no bound.
	maxCompressed int64
}

// expectations names every variant that builds here; a new one must be added.
var expectations = map[string]expect{
	"multi-stage/single-stage":      {},
	"multi-stage/multi-stage":       {user: "10001:10001"},
	"nextjs/single-stage":           {log: "added "},
	"nextjs/standalone":             {log: "added ", user: "web", health: true, maxCompressed: 150e6},
	"fastapi/single-stage":          {health: true},
	"fastapi/multi-stage":           {user: "api", health: true},
	"go-service/golang-image":       {},
	"go-service/scratch":            {user: "65532:65532", health: true, maxCompressed: 5e6},
	"copy-order/copy-all-first":     {},
	"copy-order/deps-first":         {},
	"copy-order-npm/copy-all-first": {log: "added ", user: "node"},
	"copy-order-npm/deps-first":     {log: "added ", user: "node"},
	"healthcheck/curl":              {fail: "curl: not found"},
	"healthcheck/python":            {log: "healthy", user: "api", health: true},
	"build-arg/arg-first":           {},
	"build-arg/arg-late":            {},
}

// pairs are the examples whose first variant is the single-stage build and
// whose second is the multi-stage one; the second must come out smaller.
var pairs = []string{"multi-stage", "nextjs", "fastapi", "go-service"}

func TestExamplesBuild(t *testing.T) {
	catalog, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	c := labtest.NewClient(t)

	var mu sync.Mutex
	builds := map[string]domain.BuildState{}
	seen := map[string]bool{}
	t.Run("variants", func(t *testing.T) {
		for _, e := range catalog.All() {
			for _, v := range e.Variants {
				key := e.ID + "/" + v.Name
				if !buildsHere(v) {
					continue
				}
				seen[key] = true
				want, ok := expectations[key]
				if !ok {
					t.Errorf("%s builds here but has no expectation in this test", key)
					continue
				}
				t.Run(key, func(t *testing.T) {
					t.Parallel()
					f := c.Build(t, request(t, v))
					checkBuild(t, f, want)
					mu.Lock()
					builds[key] = f.State
					mu.Unlock()
				})
			}
		}
	})
	for key := range expectations {
		if !seen[key] {
			t.Errorf("expectation for %s, which is not a variant that builds here", key)
		}
	}

	var table strings.Builder
	for _, id := range pairs {
		e, _ := catalog.Get(id)
		a, b := builds[id+"/"+e.Variants[0].Name], builds[id+"/"+e.Variants[1].Name]
		single, multi := a.Image, b.Image
		if single == nil || multi == nil {
			t.Errorf("%s: a variant has no measured image", id)
			continue
		}
		fmt.Fprintf(&table, "\n  %-12s %-14s %8s / %8s in %5.1f s   %-12s %8s / %8s in %5.1f s",
			id, e.Variants[0].Name, mb(single.SizeBytes), mb(single.CompressedBytes),
			float64(a.DurationMs)/1000, e.Variants[1].Name, mb(multi.SizeBytes),
			mb(multi.CompressedBytes), float64(b.DurationMs)/1000)
		if multi.SizeBytes >= single.SizeBytes || multi.CompressedBytes >= single.CompressedBytes {
			t.Errorf("%s: %s is %d bytes (%d compressed), not smaller than %s with %d (%d)",
				id, e.Variants[1].Name, multi.SizeBytes, multi.CompressedBytes,
				e.Variants[0].Name, single.SizeBytes, single.CompressedBytes)
		}
	}
	// Build times are the worker's, cold, with up to two builds at once.
	t.Logf("final images, uncompressed / compressed, and build times:%s", table.String())
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// checkBuild compares a finished build with what its variant must show.
func checkBuild(t *testing.T, f labtest.Finished, want expect) {
	t.Helper()
	log := f.Log()
	if want.fail != "" {
		if f.State.Status != domain.StatusFailed || !strings.Contains(log, want.fail) {
			t.Errorf("status %s, want failed with %q in the log; steps:%s", f.State.Status,
				want.fail, f.StepList())
		}
		return
	}
	if f.State.Status != domain.StatusSucceeded {
		t.Fatalf("status %s: %+v; steps:%s\nlog tail:\n%s", f.State.Status, f.State.Error,
			f.StepList(), tail(log, 3000))
	}
	if !strings.Contains(log, want.log) {
		t.Errorf("the log lacks %q", want.log)
	}
	img := f.State.Image
	if img == nil {
		t.Fatalf("no image report; warnings %+v", f.State.Warnings)
	}
	if img.User != want.user || img.RunsAsRoot != (want.user == "") {
		t.Errorf("user %q (root %v), want %q", img.User, img.RunsAsRoot, want.user)
	}
	if (len(img.Healthcheck) > 0) != want.health {
		t.Errorf("healthcheck %q; want one: %v", img.Healthcheck, want.health)
	}
	if want.maxCompressed > 0 && img.CompressedBytes > want.maxCompressed {
		t.Errorf("compressed size %d, want at most %d", img.CompressedBytes, want.maxCompressed)
	}
}

// TestRebuildAfterEdit builds the COPY-order examples, makes their
// scenario's edits and builds again: with the dependency files copied
// first the install stays cached, with everything copied first it runs again.
func TestRebuildAfterEdit(t *testing.T) {
	catalog, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	c := labtest.NewClient(t)
	tests := []struct {
		example, variant, install string
		cached                    bool
	}{
		{"copy-order", "copy-all-first", "RUN sleep 2", false},
		{"copy-order", "deps-first", "RUN sleep 2", true},
		{"copy-order-npm", "copy-all-first", "RUN npm ci", false},
		{"copy-order-npm", "deps-first", "RUN npm ci", true},
	}
	for _, tt := range tests {
		t.Run(tt.example+"/"+tt.variant, func(t *testing.T) {
			t.Parallel()
			e, _ := catalog.Get(tt.example)
			v, _ := e.Variant(tt.variant)
			first := c.Build(t, request(t, v))
			if first.State.Status != domain.StatusSucceeded {
				t.Fatalf("first build %s: %+v", first.State.Status, first.State.Error)
			}

			edited := v
			edited.Files = maps.Clone(v.Files)
			edited.BuildArgs = maps.Clone(v.BuildArgs)
			for _, ed := range e.Scenario.Edits {
				if ed.Path != "" {
					edited.Files[ed.Path] = ed.Content
				}
				if len(ed.BuildArgs) > 0 && edited.BuildArgs == nil {
					edited.BuildArgs = map[string]string{}
				}
				maps.Copy(edited.BuildArgs, ed.BuildArgs)
			}
			second := c.Build(t, request(t, edited))
			if second.State.Status != domain.StatusSucceeded {
				t.Fatalf("rebuild %s: %+v", second.State.Status, second.State.Error)
			}
			install := second.Step(t, "stage-0", tt.install)
			if install.Cached != tt.cached {
				t.Errorf("after the edit, %q cached %v, want %v; steps:%s",
					install.Instruction, install.Cached, tt.cached, second.StepList())
			}
			if last := second.Step(t, "stage-0", "COPY . ."); last.Cached {
				t.Errorf("COPY . . was cached after an edit to the sources")
			}
		})
	}
}

// request is the variant as the lab would post it, adapted to this
// machine's network (see labtest.TrustMachineCAs).
func request(t *testing.T, v examples.Variant) labtest.Request {
	t.Helper()
	files := v.Files
	if slices.Contains(v.Needs, examples.NeedNPM) {
		var err error
		if files, err = labtest.TrustMachineCAs(files, v.Dockerfile); err != nil {
			t.Fatal(err)
		}
	}
	return labtest.Request{
		Files:      files,
		Dockerfile: v.Dockerfile,
		Target:     v.Target,
		BuildArgs:  v.BuildArgs,
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
