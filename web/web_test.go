package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/layerlab/layerlab/examples"
	"github.com/layerlab/layerlab/web"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func catalog(t *testing.T) *examples.Catalog {
	t.Helper()
	c, err := examples.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func render(t *testing.T, c templ.Component) (string, *goquery.Document) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parse the page: %v", err)
	}
	return buf.String(), doc
}

func byTestID(id string) string { return `[data-testid="` + id + `"]` }

func texts(sel *goquery.Selection) []string {
	var out []string
	sel.Each(func(_ int, s *goquery.Selection) { out = append(out, strings.TrimSpace(s.Text())) })
	return out
}

func attrs(sel *goquery.Selection, name string) []string {
	var out []string
	sel.Each(func(_ int, s *goquery.Selection) { out = append(out, s.AttrOr(name, "")) })
	return out
}

var hashedAsset = regexp.MustCompile(`^/static/[a-z/]+\.[0-9a-f]{10}\.(css|js|svg)$`)

func TestHome(t *testing.T) {
	html, doc := render(t, web.Home(catalog(t).Groups()))

	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"lessons", attrs(doc.Find(byTestID("lesson-group")), "data-group"),
			[]string{"multi-stage", "cache", "runtime"}},
		{"lesson titles", texts(doc.Find(byTestID("lesson-title"))), []string{
			"Ship only what runs",
			"Keep the dependency install cached",
			"Run as a user, check health with what the image has",
		}},
		{"cards", attrs(doc.Find(byTestID("example-card")), "data-example"), []string{
			"multi-stage", "nextjs", "fastapi", "go-service",
			"copy-order", "copy-order-npm", "build-arg", "healthcheck",
		}},
		{"cards of a lesson", attrs(doc.Find(`[data-group="cache"] `+byTestID("example-card")),
			"data-example"), []string{"copy-order", "copy-order-npm", "build-arg"}},
		{"titles", texts(doc.Find(`[data-group="cache"] ` + byTestID("example-title"))),
			[]string{"COPY order and the cache", "COPY order with npm ci",
				"Where to declare a build arg"}},
		{"network badges", texts(doc.Find(byTestID("example-card") + ` .card-head ` +
			byTestID("example-network"))), []string{
			"offline", "internet", "internet", "offline", "offline", "internet", "offline",
			"internet",
		}},
		{"what a card needs", attrs(doc.Find(`[data-example="nextjs"] .card-head `+
			byTestID("example-network")), "title"), []string{"Needs the npm registry"}},
		{"needs on the card", texts(doc.Find(byTestID("example-needs"))), []string{
			"Needs the npm registry.", "Needs Debian's package archive.",
			"Needs the npm registry.", "Needs Debian's package archive.",
		}},
		{"variants labelled apart", attrs(doc.Find(`[data-example="fastapi"] .card-variants `+
			byTestID("example-network")), "title"), []string{
			"Needs base images from Docker Hub that the mirror does not hold and PyPI",
			"Needs base images from Docker Hub that the mirror does not hold and PyPI",
		}},
		{"open links", attrs(doc.Find(`[data-group="cache"] `+byTestID("example-open")), "href"),
			[]string{"/lab?example=copy-order", "/lab?example=copy-order-npm",
				"/lab?example=build-arg"}},
		{"variant links", attrs(doc.Find(`[data-example="multi-stage"] `+
			byTestID("variant-link")), "href"), []string{
			"/lab?example=multi-stage&variant=single-stage",
			"/lab?example=multi-stage&variant=multi-stage",
		}},
		{"compare links", attrs(doc.Find(`[data-group="cache"] `+byTestID("example-compare")),
			"href"), []string{"/compare?example=copy-order", "/compare?example=copy-order-npm",
			"/compare?example=build-arg"}},
		{"current page", attrs(doc.Find(`nav a[aria-current="page"]`), "href"), []string{"/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Join(tt.got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}

	assets := append(attrs(doc.Find(`link[rel]`), "href"), attrs(doc.Find("img"), "src")...)
	for _, href := range assets {
		if !hashedAsset.MatchString(href) {
			t.Errorf("asset %q is not served under a hashed name", href)
		}
	}
	golden(t, "home.html", html)
}

func TestLab(t *testing.T) {
	c := catalog(t)
	for _, ex := range c.All() {
		for _, v := range ex.Variants {
			t.Run(ex.ID+"/"+v.Name, func(t *testing.T) {
				_, doc := render(t, web.Lab(web.LabProps{Example: ex, Variant: v}))
				checkLab(t, doc, ex, v)
			})
		}
	}
}

func checkLab(t *testing.T, doc *goquery.Document, ex examples.Example, v examples.Variant) {
	t.Helper()
	one := func(id string) *goquery.Selection {
		t.Helper()
		sel := doc.Find(byTestID(id))
		if sel.Length() != 1 {
			t.Fatalf("%d elements with data-testid %q, want 1", sel.Length(), id)
		}
		return sel
	}

	if got := one("lab-title").Text(); got != ex.Title {
		t.Errorf("title %q, want %q", got, ex.Title)
	}
	tab := doc.Find(byTestID("variant-tab") + `[aria-current="page"]`)
	if got := tab.AttrOr("data-variant", ""); got != v.Name {
		t.Errorf("current variant tab %q, want %q", got, v.Name)
	}

	paths := attrs(doc.Find(byTestID("file-list")+" "+byTestID("file")), "data-path")
	if len(paths) != len(v.Files) || paths[0] != v.Dockerfile {
		t.Errorf("file list %q: want the %d files, %s first", paths, len(v.Files), v.Dockerfile)
	}
	if got := one("editor").Text(); got != v.Files[v.Dockerfile] {
		t.Errorf("editor holds %q, want the Dockerfile", got)
	}
	lines := strings.Count(v.Files[v.Dockerfile], "\n") + 1
	if got := one("editor-gutter").Children().Length(); got != lines {
		t.Errorf("gutter has %d lines, want %d", got, lines)
	}
	selected := one("dockerfile-select").Find("option[selected]")
	if got := selected.AttrOr("value", ""); got != v.Dockerfile {
		t.Errorf("selected Dockerfile %q, want %q", got, v.Dockerfile)
	}
	if got := one("target-input").AttrOr("value", ""); got != v.Target {
		t.Errorf("target %q, want %q", got, v.Target)
	}
	if got := one("lesson").Text(); got != ex.Lesson {
		t.Errorf("lesson %q, want %q", got, ex.Lesson)
	}
	if got, want := doc.Find(byTestID("scenario")).Length() == 1, ex.Scenario != nil; got != want {
		t.Errorf("scenario shown %v, want %v", got, want)
	}
	compare := "/compare?example=" + ex.ID
	if got := one("compare-link").AttrOr("href", ""); got != compare {
		t.Errorf("compare link %q, want %q", got, compare)
	}
	if ex.Scenario != nil {
		if got := one("scenario-run").AttrOr("href", ""); got != compare {
			t.Errorf("scenario's run link %q, want %q", got, compare)
		}
	}
	one("build-button")
	if got := one("build-status").AttrOr("data-status", ""); got != "idle" {
		t.Errorf("status %q before any build, want idle", got)
	}

	templates := []string{"tpl-file-row", "tpl-arg-row", "tpl-stage", "tpl-step", "tpl-warning",
		"tpl-size-stage", "tpl-size-segment", "tpl-size-row", "tpl-wasted-file", "tpl-kept-out",
		"tpl-chip"}
	for _, id := range templates {
		if doc.Find("template#"+id).Length() != 1 {
			t.Errorf("no <template id=%q> for the script", id)
		}
	}
	if _, hidden := one("sizes").Attr("hidden"); !hidden {
		t.Error("the sizes panel shows before any build")
	}
	if src := doc.Find("script[src]").AttrOr("src", ""); !hashedAsset.MatchString(src) {
		t.Errorf("script src %q is not a hashed asset", src)
	}

	var data struct {
		Example    string            `json:"example"`
		Variant    string            `json:"variant"`
		Files      map[string]string `json:"files"`
		Dockerfile string            `json:"dockerfile"`
	}
	if err := json.Unmarshal([]byte(doc.Find("script#lab-data").Text()), &data); err != nil {
		t.Fatalf("lab data: %v", err)
	}
	if data.Example != ex.ID || data.Variant != v.Name || data.Dockerfile != v.Dockerfile ||
		!maps.Equal(data.Files, v.Files) {
		t.Errorf("lab data %+v does not match the variant", data)
	}
}

func TestCompare(t *testing.T) {
	c := catalog(t)
	for _, ex := range c.All() {
		t.Run(ex.ID, func(t *testing.T) {
			_, doc := render(t, web.Compare(web.CompareProps{Example: ex}))
			checkCompare(t, doc, ex)
		})
	}
}

func checkCompare(t *testing.T, doc *goquery.Document, ex examples.Example) {
	t.Helper()
	if got := doc.Find(byTestID("compare-title")).Text(); got != ex.Title {
		t.Errorf("title %q, want %q", got, ex.Title)
	}
	if got := doc.Find(`nav a[aria-current="page"]`).AttrOr("href", ""); got != "/compare" {
		t.Errorf("current page %q, want /compare", got)
	}

	// A column per variant, its Dockerfile in an editor. The variants that
	// need more than the example as a whole start unticked.
	setups := doc.Find(byTestID("variant-setup"))
	if setups.Length() != len(ex.Variants) {
		t.Fatalf("%d variant columns, want %d", setups.Length(), len(ex.Variants))
	}
	setups.Each(func(i int, s *goquery.Selection) {
		v := ex.Variants[i]
		_, ticked := s.Find(byTestID("variant-include")).Attr("checked")
		wantTicked := v.Network == ex.Network && slices.Equal(v.Needs, ex.Needs)
		switch {
		case s.AttrOr("data-variant", "") != v.Name:
			t.Errorf("column %d is %q, want %s", i, s.AttrOr("data-variant", ""), v.Name)
		case s.Find(byTestID("variant-dockerfile")).Text() != v.Files[v.Dockerfile]:
			t.Errorf("%s: the editor does not hold the Dockerfile", v.Name)
		case ticked != wantTicked:
			t.Errorf("%s: ticked %v, want %v", v.Name, ticked, wantTicked)
		}
	})
	if got := doc.Find(byTestID("run-variant")).Length(); got != len(ex.Variants) {
		t.Errorf("%d run columns, want %d", got, len(ex.Variants))
	}

	// The scenario's edits are the changes, ready to edit.
	var changes []string
	rows := doc.Find(byTestID("change-list") + " " + byTestID("change"))
	rows.Each(func(_ int, li *goquery.Selection) {
		field := func(id string) string { return li.Find(byTestID(id)).AttrOr("value", "") }
		switch kind := li.AttrOr("data-kind", ""); kind {
		case "file":
			changes = append(changes, "file "+field("change-path")+": "+
				li.Find(byTestID("change-content")).Text())
		case "arg":
			changes = append(changes, "arg "+field("change-arg-name")+"="+field("change-arg-value"))
		default:
			changes = append(changes, kind)
		}
	})
	var want []string
	if ex.Scenario != nil {
		for _, ed := range ex.Scenario.Edits {
			if ed.BuildArgs == nil {
				want = append(want, "file "+ed.Path+": "+ed.Content)
			}
			for _, name := range slices.Sorted(maps.Keys(ed.BuildArgs)) {
				want = append(want, "arg "+name+"="+ed.BuildArgs[name])
			}
		}
	}
	if !slices.Equal(changes, want) {
		t.Errorf("changes %q, want %q", changes, want)
	}
	_, emptyHidden := doc.Find(byTestID("changes-empty")).Attr("hidden")
	if emptyHidden != (len(want) > 0) {
		t.Errorf("the note on no changes is hidden: %v, with %d changes", emptyHidden, len(want))
	}

	templates := []string{"tpl-change-file", "tpl-change-delete", "tpl-change-arg",
		"tpl-change-target", "tpl-run-step", "tpl-warning", "tpl-code-line", "tpl-summary-head",
		"tpl-summary-cell", "tpl-bar-group", "tpl-bar", "tpl-rows-head", "tpl-row", "tpl-cell"}
	for _, id := range templates {
		if doc.Find("template#"+id).Length() != 1 {
			t.Errorf("no <template id=%q> for the script", id)
		}
	}
	for _, id := range []string{"run", "results", "run-variants", "rows-panel"} {
		if _, hidden := doc.Find(byTestID(id)).Attr("hidden"); !hidden {
			t.Errorf("%s shows before any run", id)
		}
	}
	scripts := attrs(doc.Find("script[src]"), "src")
	if len(scripts) != 2 || !strings.Contains(scripts[0], "/kit.") ||
		!strings.Contains(scripts[1], "/compare.") {
		t.Errorf("scripts %q, want kit.js then compare.js", scripts)
	}
	for _, src := range scripts {
		if !hashedAsset.MatchString(src) {
			t.Errorf("script src %q is not a hashed asset", src)
		}
	}

	var data struct {
		Example  string `json:"example"`
		Variants []struct {
			Name       string            `json:"name"`
			Files      map[string]string `json:"files"`
			Dockerfile string            `json:"dockerfile"`
			BuildArgs  map[string]string `json:"buildArgs"`
		} `json:"variants"`
	}
	if err := json.Unmarshal([]byte(doc.Find("script#compare-data").Text()), &data); err != nil {
		t.Fatalf("compare data: %v", err)
	}
	if data.Example != ex.ID || len(data.Variants) != len(ex.Variants) {
		t.Fatalf("compare data for %q with %d variants", data.Example, len(data.Variants))
	}
	for i, v := range ex.Variants {
		d := data.Variants[i]
		if d.Name != v.Name || d.Dockerfile != v.Dockerfile || !maps.Equal(d.Files, v.Files) ||
			len(d.BuildArgs) != len(v.BuildArgs) {
			t.Errorf("compare data of %s does not match the variant", v.Name)
		}
	}
}

func TestLabEscapesContent(t *testing.T) {
	hostile := "FROM busybox\n</textarea><script>alert(1)</script>\n"
	ex := examples.Example{ID: "x", Title: "<b>title</b>", Lesson: "l", Variants: []examples.Variant{{
		Name: "v", Dockerfile: "Dockerfile", Files: map[string]string{"Dockerfile": hostile},
	}}}
	html, doc := render(t, web.Lab(web.LabProps{Example: ex, Variant: ex.Variants[0]}))
	if strings.Contains(html, "<script>alert(1)") || strings.Contains(html, "<b>title</b>") {
		t.Error("file content or title reached the page unescaped")
	}
	if got := doc.Find(byTestID("editor")).Text(); got != ex.Variants[0].Files["Dockerfile"] {
		t.Errorf("editor holds %q", got)
	}
}

func TestNotFound(t *testing.T) {
	_, doc := render(t, web.NotFound(`There is no example "nope".`))
	if got := doc.Find(byTestID("not-found-message")).Text(); got != `There is no example "nope".` {
		t.Errorf("message %q", got)
	}
	if got := doc.Find("title").Text(); got != "Not found · layerlab" {
		t.Errorf("title %q", got)
	}
}

// golden compares a page with testdata/name, asset hashes left out so that
// a change of style does not touch the golden file.
func golden(t *testing.T, name, html string) {
	t.Helper()
	html = regexp.MustCompile(`\.[0-9a-f]{10}\.(css|js|svg)`).ReplaceAllString(html, ".HASH.$1")
	html = strings.ReplaceAll(html, "><", ">\n<")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (go test ./web -update writes it): %v", err)
	}
	if html != string(want) {
		t.Errorf("%s differs from the rendered page; go test ./web -update rewrites it, "+
			"then read the diff:\n%s", path, html)
	}
}
