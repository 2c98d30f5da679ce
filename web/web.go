// Package web holds layerlab's pages as templ components. The components only
// render what they are given; handlers pick the data and render into a buffer
// first, so that a failed render never sends half a page.
//
// Everything a test reads carries a data-testid attribute, and the lab's
// script finds its elements the same way.
package web

import (
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/a-h/templ"

	"github.com/layerlab/layerlab/examples"
)

// LabProps is what the lab page shows at first: one variant of an example.
type LabProps struct {
	Example examples.Example
	Variant examples.Variant
}

// labData is handed to the lab's script as JSON: the editable state the page
// starts from.
type labData struct {
	Example    string             `json:"example"`
	Variant    string             `json:"variant"`
	Files      map[string]string  `json:"files"`
	Dockerfile string             `json:"dockerfile"`
	Target     string             `json:"target"`
	BuildArgs  map[string]string  `json:"buildArgs"`
	Scenario   *examples.Scenario `json:"scenario"`
}

func (p LabProps) data() labData {
	args := p.Variant.BuildArgs
	if args == nil {
		args = map[string]string{}
	}
	return labData{
		Example:    p.Example.ID,
		Variant:    p.Variant.Name,
		Files:      p.Variant.Files,
		Dockerfile: p.Variant.Dockerfile,
		Target:     p.Variant.Target,
		BuildArgs:  args,
		Scenario:   p.Example.Scenario,
	}
}

// paths lists the variant's files with the Dockerfile first, then by name,
// as the file list shows them.
func (p LabProps) paths() []string {
	return sortPaths(p.Variant.Files, p.Variant.Dockerfile)
}

func sortPaths(files map[string]string, dockerfile string) []string {
	paths := make([]string, 0, len(files))
	for name := range files {
		paths = append(paths, name)
	}
	sort.Slice(paths, func(i, j int) bool {
		if (paths[i] == dockerfile) != (paths[j] == dockerfile) {
			return paths[i] == dockerfile
		}
		return paths[i] < paths[j]
	})
	return paths
}

// argNames lists the build args in name order.
func (p LabProps) argNames() []string {
	names := make([]string, 0, len(p.Variant.BuildArgs))
	for k := range p.Variant.BuildArgs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// lineNumbers numbers the lines of text as a textarea shows them (a final
// newline starts an empty last line), for the editor's gutter.
func lineNumbers(text string) []int {
	nums := make([]int, strings.Count(text, "\n")+1)
	for i := range nums {
		nums[i] = i + 1
	}
	return nums
}

// labURL is the lab's address for a variant of an example; an empty variant
// means the example's first.
func labURL(example, variant string) templ.SafeURL {
	q := url.Values{"example": {example}}
	if variant != "" {
		q.Set("variant", variant)
	}
	return templ.SafeURL("/lab?" + q.Encode())
}

// needsText says in a sentence what an internet build downloads from.
func needsText(needs []examples.Need) string {
	if len(needs) == 0 {
		return "Builds from the local image mirror alone"
	}
	titles := make([]string, len(needs))
	for i, n := range needs {
		titles[i] = n.Title()
	}
	last := len(titles) - 1
	if last == 0 {
		return "Needs " + titles[0]
	}
	return "Needs " + strings.Join(titles[:last], ", ") + " and " + titles[last]
}

// sameLabel reports whether a variant needs what its example does, so the
// gallery labels it only where it differs.
func sameLabel(e examples.Example, v examples.Variant) bool {
	return v.Network == e.Network && slices.Equal(v.Needs, e.Needs)
}

// current is the aria-current value of a navigation link.
func current(active, name string) string {
	if active == name {
		return "page"
	}
	return "false"
}
