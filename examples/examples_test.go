package examples_test

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
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
	want := "multi-stage,nextjs,fastapi,go-service,copy-order,copy-order-npm,healthcheck,build-arg"
	if got := strings.Join(ids, ","); got != want {
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
	g, _ := c.Get("go-service")
	scratch, _ := g.Variant("scratch")
	for _, name := range []string{"Dockerfile", "go.mod", "main.go", "main_test.go"} {
		if _, ok := scratch.Files[name]; !ok {
			t.Errorf("go-service/scratch lacks %s", name)
		}
	}
	if _, ok := c.Get("nope"); ok {
		t.Error("Get found an example that does not exist")
	}
}

// mirrorImages are the images the examples may take from the local mirror
// (layerlab images seed), and scratch, which is no image at all.
var mirrorImages = map[string]bool{
	"busybox":                   true,
	"debian:bookworm-slim":      true,
	"node:22-bookworm-slim":     true,
	"python:3.11-slim-bookworm": true,
	"golang:1.26-bookworm":      true,
	"scratch":                   true,
}

var fromLine = regexp.MustCompile(`(?im)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`)

// TestBaseImagesMatchLabels keeps the labels honest: a variant that does not
// say it needs Docker Hub names only images of the mirror, and one that says
// so names at least one image the mirror lacks.
func TestBaseImagesMatchLabels(t *testing.T) {
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.All() {
		for _, v := range e.Variants {
			hub := slices.Contains(v.Needs, examples.NeedDockerHub)
			var outside []string
			stages := map[string]bool{}
			for _, m := range fromLine.FindAllStringSubmatch(v.Files[v.Dockerfile], -1) {
				if !mirrorImages[m[1]] && !stages[strings.ToLower(m[1])] {
					outside = append(outside, m[1])
				}
				stages[strings.ToLower(m[2])] = true
			}
			switch {
			case !hub && len(outside) > 0:
				t.Errorf("%s/%s: %v not in the mirror, yet it does not need docker-hub",
					e.ID, v.Name, outside)
			case hub && len(outside) == 0:
				t.Errorf("%s/%s: needs docker-hub, yet every image is in the mirror", e.ID, v.Name)
			}
		}
	}
}

func TestVariantLabels(t *testing.T) {
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		example, variant string
		network          examples.Network
		needs            string
	}{
		{"multi-stage", "multi-stage", examples.Offline, ""},
		{"go-service", "scratch", examples.Offline, ""},
		{"copy-order", "deps-first", examples.Offline, ""},
		{"nextjs", "standalone", examples.Internet, "npm"},
		{"nextjs", "alpine", examples.Internet, "docker-hub,npm"},
		{"fastapi", "multi-stage", examples.Internet, "debian"},
		{"fastapi", "pypi-uv", examples.Internet, "docker-hub,pypi"},
		{"healthcheck", "curl", examples.Internet, "debian"},
	}
	for _, tt := range tests {
		e, _ := c.Get(tt.example)
		v, ok := e.Variant(tt.variant)
		if !ok {
			t.Errorf("no variant %s/%s", tt.example, tt.variant)
			continue
		}
		var needs []string
		for _, n := range v.Needs {
			needs = append(needs, string(n))
		}
		if v.Network != tt.network || strings.Join(needs, ",") != tt.needs {
			t.Errorf("%s/%s: %s %v, want %s %s", tt.example, tt.variant, v.Network, needs,
				tt.network, tt.needs)
		}
	}
}

func TestGroups(t *testing.T) {
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	n := 0
	for _, g := range c.Groups() {
		var ids []string
		for _, e := range g.Examples {
			ids = append(ids, e.ID)
		}
		n += len(ids)
		got = append(got, g.ID+": "+strings.Join(ids, " "))
	}
	want := []string{
		"multi-stage: multi-stage nextjs fastapi go-service",
		"cache: copy-order copy-order-npm build-arg",
		"runtime: healthcheck",
	}
	if !slices.Equal(got, want) {
		t.Errorf("groups\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n != len(c.All()) {
		t.Errorf("the groups hold %d examples, the catalog %d", n, len(c.All()))
	}
}

// TestLockfilesMatchPackages keeps each committed package-lock.json in step
// with its package.json, since npm ci refuses a lock that is not.
func TestLockfilesMatchPackages(t *testing.T) {
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range c.All() {
		for _, v := range e.Variants {
			pkg, ok := v.Files["package.json"]
			if !ok {
				continue
			}
			var manifest struct {
				Name         string            `json:"name"`
				Dependencies map[string]string `json:"dependencies"`
			}
			var lock struct {
				LockfileVersion int `json:"lockfileVersion"`
				Packages        map[string]struct {
					Name         string            `json:"name"`
					Version      string            `json:"version"`
					Dependencies map[string]string `json:"dependencies"`
				} `json:"packages"`
			}
			if err := json.Unmarshal([]byte(pkg), &manifest); err != nil {
				t.Fatalf("%s/%s: package.json: %v", e.ID, v.Name, err)
			}
			if err := json.Unmarshal([]byte(v.Files["package-lock.json"]), &lock); err != nil {
				t.Fatalf("%s/%s: package-lock.json: %v", e.ID, v.Name, err)
			}
			root := lock.Packages[""]
			if lock.LockfileVersion != 3 || root.Name != manifest.Name ||
				!maps.Equal(root.Dependencies, manifest.Dependencies) {
				t.Errorf("%s/%s: package-lock.json is out of step with package.json", e.ID, v.Name)
			}
			for name, version := range manifest.Dependencies {
				if got := lock.Packages["node_modules/"+name].Version; got != version {
					t.Errorf("%s/%s: lock has %s %s, package.json pins %s",
						e.ID, v.Name, name, got, version)
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no example has a package.json")
	}
}

// TestScenarioEditsChangeSomething checks that every edit of a scenario
// changes every variant: a file it rewrites exists and gets new content, a
// build arg gets a new value.
func TestScenarioEditsChangeSomething(t *testing.T) {
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var with []string
	for _, e := range c.All() {
		if e.Scenario == nil {
			continue
		}
		with = append(with, e.ID)
		for _, v := range e.Variants {
			for _, ed := range e.Scenario.Edits {
				for name, value := range ed.BuildArgs {
					if v.BuildArgs[name] == value {
						t.Errorf("%s/%s: build arg %s is %q already", e.ID, v.Name, name, value)
					}
				}
				if ed.BuildArgs != nil {
					continue
				}
				before, ok := v.Files[ed.Path]
				if !ok || before == ed.Content {
					t.Errorf("%s/%s: the edit of %s changes nothing", e.ID, v.Name, ed.Path)
				}
			}
		}
	}
	want := []string{"multi-stage", "nextjs", "copy-order", "copy-order-npm", "build-arg"}
	if !slices.Equal(with, want) {
		t.Errorf("examples with a scenario %q, want %q", with, want)
	}
}

func TestScenarioChanges(t *testing.T) {
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		example string
		want    string // the changes, as JSON
	}{
		{"build-arg", `[{"buildArgs":{"RELEASE":"2"}}]`},
		{"copy-order", `[{"path":"app/main.sh","content":"# main.sh: prints the version and ` +
			`the installed dependencies.\necho \"tally v2\"\ncat /app/vendor/installed.lock\n"}]`},
	}
	for _, tt := range tests {
		e, _ := c.Get(tt.example)
		got, err := json.Marshal(e.Scenario.Changes())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("%s: changes %s, want %s", tt.example, got, tt.want)
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	const good = `{"title": "T", "group": "cache", "lesson": "L", "network": "offline",
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
				`{"title": "T", "group": "cache", "lesson": "L", "network": "offline"}`)},
		}, "no variants"},
		{"no Dockerfile", fstest.MapFS{
			"ex/example.json":            {Data: []byte(good)},
			"ex/context/app.sh":          {Data: []byte("echo\n")},
			"ex/variants/one/.gitignore": {Data: []byte("x\n")},
		}, `no file "Dockerfile"`},
		{"unknown group", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"cache"`, `"misc"`, 1))},
		}, `group "misc" is not a lesson`},
		{"offline with needs", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"offline"`,
				`"offline", "needs": ["npm"]`, 1))},
		}, "network is offline, yet it needs [npm]"},
		{"internet without needs", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, "offline", "internet", 1))},
		}, "say what it needs"},
		{"unknown need", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"offline"`,
				`"internet", "needs": ["cpan"]`, 1))},
		}, `unknown need "cpan"`},
		{"variant label", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"title": "One"`,
				`"title": "One", "network": "internet"`, 1))},
		}, "variant one: network is internet; say what it needs"},
		{"scenario without edits", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"variants"`,
				`"scenario": {"description": "d", "edits": []}, "variants"`, 1))},
			"ex/variants/one/Dockerfile": dockerfile,
		}, "scenario: no edits"},
		{"file and build args in one edit", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"variants"`,
				`"scenario": {"edits": [{"path": "a", "content": "x", "buildArgs": {"A": "1"}}]},
				"variants"`, 1))},
			"ex/variants/one/Dockerfile": dockerfile,
		}, "edit 1 sets both a file and build args"},
		{"bad build arg name", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"variants"`,
				`"scenario": {"edits": [{"buildArgs": {"RE LEASE": "2"}}]}, "variants"`, 1))},
			"ex/variants/one/Dockerfile": dockerfile,
		}, `edit 1: "RE LEASE" is not a build arg name`},
		{"no build args", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"variants"`,
				`"scenario": {"edits": [{"buildArgs": {}}]}, "variants"`, 1))},
			"ex/variants/one/Dockerfile": dockerfile,
		}, "edit 1 sets no build args"},
		{"scenario over the limits", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"variants"`,
				`"scenario": {"edits": [{"path": "big", "content": "`+
					strings.Repeat("x", 1<<20+1)+`"}]}, "variants"`, 1))},
			"ex/variants/one/Dockerfile": dockerfile,
		}, "variant one after the scenario"},
		{"bad scenario path", fstest.MapFS{
			"ex/example.json": {Data: []byte(strings.Replace(good, `"variants"`,
				`"scenario": {"edits": [{"path": "../x", "content": ""}]}, "variants"`, 1))},
			"ex/variants/one/Dockerfile": dockerfile,
		}, "has a .. segment"},
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
		"ex/example.json": {Data: []byte(`{"title": "T", "group": "cache", "lesson": "L",
			"network": "internet", "needs": ["npm"],
			"variants": [{"name": "a", "title": "A"},
				{"name": "b", "title": "B", "target": "x",
					"network": "internet", "needs": ["docker-hub", "npm"]}]}`)},
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
	if a.Network != examples.Internet || !slices.Equal(a.Needs, []examples.Need{"npm"}) ||
		!slices.Equal(b.Needs, []examples.Need{"docker-hub", "npm"}) {
		t.Errorf("labels: a %s %v, b %s %v; want a to take the example's, b its own",
			a.Network, a.Needs, b.Network, b.Needs)
	}
	spec := b.Spec()
	if spec.Target != "x" || spec.Dockerfile != "Dockerfile" || len(spec.Files) != 2 {
		t.Errorf("spec %+v", spec)
	}
}
