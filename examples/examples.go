// Package examples holds layerlab's built-in experiments, embedded in the
// binary. Each example teaches one lesson by putting variants of a build side
// by side (a single-stage build against a multi-stage one, a bad COPY order
// against a good one) and may carry a scenario: an edit to make after the
// first build, so that the rebuild shows what the cache kept.
//
// An example lives in a folder of catalog/ named after its ID:
//
//	catalog/ID/example.json          title, lesson, explanation, variants, scenario
//	catalog/ID/context/...           files every variant shares
//	catalog/ID/variants/NAME/...     files of one variant, over the shared ones
package examples

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/layerlab/layerlab/domain"
)

//go:embed all:catalog
var embedded embed.FS

// Network says whether an example builds with the local image mirror alone
// or needs the internet (a package registry in a RUN step, say). A workshop
// room without a connection can use only the offline ones.
type Network string

// The two kinds of example.
const (
	Offline  Network = "offline"
	Internet Network = "internet"
)

// Example is one experiment of the gallery.
type Example struct {
	ID    string `json:"-"`
	Title string `json:"title"`
	// Order places the example in the gallery; the first is the starter.
	Order   int     `json:"order"`
	Network Network `json:"network"`
	// Lesson is the lesson in one sentence, for the gallery card.
	Lesson string `json:"lesson"`
	// Explanation says what the variants do differently and why it matters.
	Explanation string `json:"explanation"`
	// LookFor lists what to watch for in the build's steps.
	LookFor  []string  `json:"lookFor"`
	Variants []Variant `json:"variants"`
	Scenario *Scenario `json:"scenario,omitempty"`
}

// Variant is one build of an example: its context files and how to build
// them.
type Variant struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
	// Dockerfile is the path of the Dockerfile among Files; "Dockerfile"
	// when example.json leaves it out.
	Dockerfile string            `json:"dockerfile"`
	Target     string            `json:"target"`
	BuildArgs  map[string]string `json:"buildArgs"`
	Files      map[string]string `json:"-"`
}

// Scenario is what to do after the first build to make the lesson show:
// edit some files, then build again.
type Scenario struct {
	Description string `json:"description"`
	Edits       []Edit `json:"edits"`
}

// Edit replaces the content of one context file, or adds the file.
type Edit struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// Spec is the variant as a build request.
func (v Variant) Spec() domain.Spec {
	files := make(map[string][]byte, len(v.Files))
	for name, text := range v.Files {
		files[name] = []byte(text)
	}
	return domain.Spec{
		Files:      files,
		Dockerfile: v.Dockerfile,
		Target:     v.Target,
		BuildArgs:  v.BuildArgs,
	}
}

// Variant returns the variant of e with the given name.
func (e Example) Variant(name string) (Variant, bool) {
	for _, v := range e.Variants {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}

// Catalog is a set of examples in gallery order.
type Catalog struct {
	examples []Example
}

// All returns the examples in gallery order.
func (c *Catalog) All() []Example { return c.examples }

// Get returns the example with the given ID.
func (c *Catalog) Get(id string) (Example, bool) {
	for _, e := range c.examples {
		if e.ID == id {
			return e, true
		}
	}
	return Example{}, false
}

// Starter is the example the lab opens when none is asked for.
func (c *Catalog) Starter() Example { return c.examples[0] }

var builtin = sync.OnceValues(func() (*Catalog, error) {
	sub, err := fs.Sub(embedded, "catalog")
	if err != nil {
		return nil, err
	}
	return Load(sub)
})

// Builtin returns the examples embedded in the binary. It fails only if one
// of them is malformed, which the package's tests rule out.
func Builtin() (*Catalog, error) { return builtin() }

var slug = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Load reads every example folder at the top of fsys and checks each
// variant against the default build limits, so that an example the server
// would refuse never reaches the gallery.
func Load(fsys fs.FS) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read examples: %w", err)
	}
	c := &Catalog{}
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		e, err := loadExample(fsys, ent.Name())
		if err != nil {
			return nil, fmt.Errorf("example %s: %w", ent.Name(), err)
		}
		c.examples = append(c.examples, e)
	}
	if len(c.examples) == 0 {
		return nil, errors.New("read examples: there are none")
	}
	sort.SliceStable(c.examples, func(i, j int) bool {
		return c.examples[i].Order < c.examples[j].Order
	})
	return c, nil
}

func loadExample(fsys fs.FS, id string) (Example, error) {
	if !slug.MatchString(id) {
		return Example{}, fmt.Errorf("the folder name is not a slug (a-z, 0-9, dashes)")
	}
	raw, err := fs.ReadFile(fsys, path.Join(id, "example.json"))
	if err != nil {
		return Example{}, err
	}
	var e Example
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Example{}, fmt.Errorf("parse example.json: %w", err)
	}
	e.ID = id
	if err := e.check(); err != nil {
		return Example{}, err
	}

	shared, err := readTree(fsys, path.Join(id, "context"))
	if err != nil {
		return Example{}, err
	}
	for i := range e.Variants {
		v := &e.Variants[i]
		own, err := readTree(fsys, path.Join(id, "variants", v.Name))
		if err != nil {
			return Example{}, err
		}
		v.Files = merge(shared, own)
		if v.Dockerfile == "" {
			v.Dockerfile = "Dockerfile"
		}
		if _, err := domain.DefaultLimits.Validate(v.Spec()); err != nil {
			return Example{}, fmt.Errorf("variant %s: %w", v.Name, err)
		}
	}
	return e, nil
}

// check validates what example.json says, before any file is read.
func (e Example) check() error {
	switch {
	case strings.TrimSpace(e.Title) == "":
		return errors.New("no title")
	case strings.TrimSpace(e.Lesson) == "":
		return errors.New("no lesson")
	case e.Network != Offline && e.Network != Internet:
		return fmt.Errorf("network is %q; want %q or %q", e.Network, Offline, Internet)
	case len(e.Variants) == 0:
		return errors.New("no variants")
	}
	seen := map[string]bool{}
	for _, v := range e.Variants {
		if !slug.MatchString(v.Name) {
			return fmt.Errorf("variant name %q is not a slug", v.Name)
		}
		if seen[v.Name] {
			return fmt.Errorf("variant %s appears twice", v.Name)
		}
		seen[v.Name] = true
	}
	if e.Scenario != nil {
		for _, ed := range e.Scenario.Edits {
			if _, err := domain.CleanPath(ed.Path); err != nil {
				return fmt.Errorf("scenario: %w", err)
			}
		}
	}
	return nil
}

// readTree reads every file under dir, keyed by its path relative to dir. A
// missing dir is an empty tree.
func readTree(fsys fs.FS, dir string) (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && name == dir {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(name, dir+"/")] = string(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return files, nil
}

func merge(base, over map[string]string) map[string]string {
	out := maps.Clone(base)
	maps.Copy(out, over)
	return out
}
