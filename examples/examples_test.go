package examples_test

import (
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/layerlab/layerlab/examples"
)

func TestBuiltin(t *testing.T) {
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range c.All() {
		ids = append(ids, e.ID)
	}
	if got, want := strings.Join(ids, ","), "multi-stage,copy-order"; got != want {
		t.Errorf("examples %s, want %s", got, want)
	}
	if got := c.Starter().ID; got != "multi-stage" {
		t.Errorf("starter %s, want multi-stage", got)
	}

	v, ok := c.Starter().Variant("multi-stage")
	if !ok {
		t.Fatal("multi-stage has no variant multi-stage")
	}
	for _, name := range []string{"Dockerfile", "build.sh", "src/main.sh", "tests/run.sh"} {
		if _, ok := v.Files[name]; !ok {
			t.Errorf("variant multi-stage lacks %s", name)
		}
	}
	if _, ok := c.Get("nope"); ok {
		t.Error("Get found an example that does not exist")
	}
}

// offlineBases are the images the local mirror holds.
var offlineBases = map[string]bool{"busybox": true, "debian:bookworm-slim": true}

var fromLine = regexp.MustCompile(`(?im)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`)

// TestOfflineExamplesUseMirrorImages keeps an offline example from naming a
// base image that a workshop room without internet could not pull.
func TestOfflineExamplesUseMirrorImages(t *testing.T) {
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.All() {
		if e.Network != examples.Offline {
			continue
		}
		for _, v := range e.Variants {
			stages := map[string]bool{}
			for _, m := range fromLine.FindAllStringSubmatch(v.Files[v.Dockerfile], -1) {
				if !offlineBases[m[1]] && !stages[strings.ToLower(m[1])] {
					t.Errorf("%s/%s: FROM %s is not in the mirror", e.ID, v.Name, m[1])
				}
				stages[strings.ToLower(m[2])] = true
			}
		}
	}
}

func TestScenarioEditsExistingFiles(t *testing.T) {
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := c.Get("copy-order")
	if e.Scenario == nil || len(e.Scenario.Edits) == 0 {
		t.Fatal("copy-order has no scenario")
	}
	for _, v := range e.Variants {
		for _, ed := range e.Scenario.Edits {
			before, ok := v.Files[ed.Path]
			if !ok || before == ed.Content {
				t.Errorf("%s: the edit of %s changes nothing", v.Name, ed.Path)
			}
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	const good = `{"title": "T", "lesson": "L", "network": "offline",
		"variants": [{"name": "one", "title": "One"}]}`
	dockerfile := &fstest.MapFile{Data: []byte("FROM busybox\n")}
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"no examples", fstest.MapFS{}, "there are none"},
		{"bad folder name", fstest.MapFS{
			"Bad_Name/example.json": {Data: []byte(good)},
		}, "not a slug"},
		{"unknown field", fstest.MapFS{
			"ex/example.json": {Data: []byte(`{"titel": "T"}`)},
		}, "unknown field"},
		{"bad network", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, "offline", "sometimes", 1))},
		}, `network is "sometimes"`},
		{"no variants", fstest.MapFS{
			"ex/example.json": {Data: []byte(
				`{"title": "T", "lesson": "L", "network": "offline"}`)},
		}, "no variants"},
		{"no Dockerfile", fstest.MapFS{
			"ex/example.json":            {Data: []byte(good)},
			"ex/context/app.sh":          {Data: []byte("echo\n")},
			"ex/variants/one/.gitignore": {Data: []byte("x\n")},
		}, `no file "Dockerfile"`},
		{"bad scenario path", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"variants"`,
				`"scenario": {"edits": [{"path": "../x", "content": ""}]}, "variants"`, 1))},
			"ex/variants/one/Dockerfile": dockerfile,
		}, "leaves the build context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := examples.Load(tt.fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestLoadMergesSharedFiles(t *testing.T) {
	c, err := examples.Load(fstest.MapFS{
		"ex/example.json": {Data: []byte(`{"title": "T", "lesson": "L", "network": "internet",
			"variants": [{"name": "a", "title": "A"},
				{"name": "b", "title": "B", "target": "x"}]}`)},
		"ex/context/Dockerfile":    {Data: []byte("FROM busybox\n")},
		"ex/context/app/main.sh":   {Data: []byte("echo shared\n")},
		"ex/variants/b/Dockerfile": {Data: []byte("FROM busybox AS x\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := c.Starter()
	a, _ := e.Variant("a")
	b, _ := e.Variant("b")
	if a.Files["Dockerfile"] != "FROM busybox\n" || b.Files["Dockerfile"] != "FROM busybox AS x\n" {
		t.Errorf("Dockerfiles %q and %q: want the shared one and b's own",
			a.Files["Dockerfile"], b.Files["Dockerfile"])
	}
	if a.Files["app/main.sh"] != "echo shared\n" || b.Files["app/main.sh"] != "echo shared\n" {
		t.Error("a shared file is missing from a variant")
	}
	spec := b.Spec()
	if spec.Target != "x" || spec.Dockerfile != "Dockerfile" || len(spec.Files) != 2 {
		t.Errorf("spec %+v", spec)
	}
}
