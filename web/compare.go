package web

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/layerlab/layerlab/examples"
)

// maxRunVariants is how many variants a run takes (POST /api/runs).
const maxRunVariants = 4

// CompareProps is what the compare page shows at first: an example's
// variants side by side and its scenario's changes, ready to run.
type CompareProps struct {
	Example examples.Example
}

// compareData is handed to the compare page's script as JSON: each
// variant's files and build settings. The Dockerfiles and the changes are
// read from the page, where the person may have edited them.
type compareData struct {
	Example  string           `json:"example"`
	Variants []compareVariant `json:"variants"`
}

type compareVariant struct {
	Name       string            `json:"name"`
	Title      string            `json:"title"`
	Files      map[string]string `json:"files"`
	Dockerfile string            `json:"dockerfile"`
	Target     string            `json:"target"`
	BuildArgs  map[string]string `json:"buildArgs"`
}

func (p CompareProps) data() compareData {
	d := compareData{Example: p.Example.ID}
	for _, v := range p.Example.Variants {
		args := v.BuildArgs
		if args == nil {
			args = map[string]string{}
		}
		d.Variants = append(d.Variants, compareVariant{Name: v.Name, Title: v.Title,
			Files: v.Files, Dockerfile: v.Dockerfile, Target: v.Target, BuildArgs: args})
	}
	return d
}

// included reports whether a variant starts ticked for the run: the first
// four that need nothing beyond what the example as a whole needs. A
// variant that needs more (an image only Docker Hub has, say) is the online
// original of another and would fail where the example builds offline.
func (p CompareProps) included(v examples.Variant) bool {
	n := 0
	for _, other := range p.Example.Variants {
		if !sameLabel(p.Example, other) {
			continue
		}
		n++
		if other.Name == v.Name {
			return n <= maxRunVariants
		}
	}
	return false
}

// changeRow is one change of the run as the page lists it: a file's new
// content, a deleted file, a build arg or a target.
type changeRow struct {
	Kind string // "file", "delete", "arg" or "target"
	// Path and Content for a file, Path for a deletion, Name and Value for
	// a build arg, Value for a target.
	Path, Content, Name, Value string
}

// changes are the scenario's edits as rows of the page, one per build arg.
func (p CompareProps) changes() []changeRow {
	s := p.Example.Scenario
	if s == nil {
		return nil
	}
	var rows []changeRow
	for _, ed := range s.Edits {
		if ed.BuildArgs == nil {
			rows = append(rows, changeRow{Kind: "file", Path: ed.Path, Content: ed.Content})
			continue
		}
		names := make([]string, 0, len(ed.BuildArgs))
		for name := range ed.BuildArgs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			rows = append(rows, changeRow{Kind: "arg", Name: name, Value: ed.BuildArgs[name]})
		}
	}
	return rows
}

// contextPaths lists every file of every variant once, by name, for the
// change rows' suggestions.
func (p CompareProps) contextPaths() []string {
	seen := map[string]bool{}
	var paths []string
	for _, v := range p.Example.Variants {
		for name := range v.Files {
			if !seen[name] {
				seen[name] = true
				paths = append(paths, name)
			}
		}
	}
	sort.Strings(paths)
	return paths
}

// otherFiles names a variant's files besides its Dockerfile, in a phrase.
func otherFiles(v examples.Variant) string {
	var names []string
	for _, name := range sortPaths(v.Files, v.Dockerfile) {
		if name != v.Dockerfile {
			names = append(names, name)
		}
	}
	switch {
	case len(names) == 0:
		return "No other files."
	case len(names) > 6:
		return "With " + strings.Join(names[:6], ", ") + " and " +
			strconv.Itoa(len(names)-6) + " more files."
	}
	return "With " + strings.Join(names, ", ") + "."
}

// argsText writes a variant's build args as NAME=value pairs, by name.
func argsText(args map[string]string) string {
	names := make([]string, 0, len(args))
	for name := range args {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		names[i] = name + "=" + args[name]
	}
	return strings.Join(names, " ")
}

// compareURL is the compare page's address for an example.
func compareURL(example string) templ.SafeURL {
	return templ.SafeURL("/compare?" + url.Values{"example": {example}}.Encode())
}

// dockerfileRows is how many lines the variants' Dockerfile editors show:
// as many as the longest needs, so that the columns line up.
func (p CompareProps) dockerfileRows() string {
	longest := ""
	for _, v := range p.Example.Variants {
		if text := v.Files[v.Dockerfile]; strings.Count(text, "\n") > strings.Count(longest, "\n") {
			longest = text
		}
	}
	return rows(longest, 4, 18)
}

// rows is how many lines a textarea needs to show text whole, within
// bounds that keep the page short.
func rows(text string, lo, hi int) string {
	n := strings.Count(strings.TrimSuffix(text, "\n"), "\n") + 1
	return strconv.Itoa(max(lo, min(n, hi)))
}
