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
//
// A file named go.mod would make its folder a Go module of its own, which
// go:embed leaves out without a word; an example keeps it as _go.mod and
// Load gives it back its name. The Go sources beside it then belong to
// layerlab's module, so go vet and go test check them too.
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
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/layerlab/layerlab/domain"
)

//go:embed all:catalog
var embedded embed.FS

// Network says whether a build needs nothing but the local image mirror or
// something from the internet (a package registry in a RUN step, say). A
// workshop room without a connection can use only the offline ones.
type Network string

// The two labels.
const (
	Offline  Network = "offline"
	Internet Network = "internet"
)

// Need names one thing from the internet that a build downloads. An
// internet build lists every one it needs, so that people know before
// pressing Build whether their network has it.
type Need string

// What builds may need. RUN steps reach Debian's archive and the npm
// registry on layerlab's own machines (npm once it trusts the CA that their
// network signs TLS with; see e2e/examples). Docker Hub and PyPI are out of
// reach there: the variants that need them are the usual online ways, kept
// beside an example's own for people who have the internet.
const (
	NeedDebian    Need = "debian"
	NeedNPM       Need = "npm"
	NeedDockerHub Need = "docker-hub"
	NeedPyPI      Need = "pypi"
)

// needTitles says what each need is, for people.
var needTitles = map[Need]string{
	NeedDebian:    "Debian's package archive",
	NeedNPM:       "the npm registry",
	NeedDockerHub: "base images from Docker Hub that the mirror does not hold",
	NeedPyPI:      "PyPI",
}

// Title says what the need is, as the gallery and the lab show it.
func (n Need) Title() string { return needTitles[n] }

// Group is a lesson the gallery shows its examples under.
type Group struct {
	ID    string
	Title string
	// Intro says in a sentence or two what the examples of the group teach.
	Intro    string
	Examples []Example
}

// groups are the lessons in gallery order; an example names one by ID.
var groups = []Group{
	{
		ID:    "multi-stage",
		Title: "Ship only what runs",
		Intro: "A build stage has the compiler, the package manager and the sources; " +
			"a runtime stage starts afresh and copies in only what the program needs.",
	},
	{
		ID:    "cache",
		Title: "Keep the dependency install cached",
		Intro: "Put what changes rarely above what changes often: the dependency list " +
			"before the sources, an ARG just above the RUN that reads it, " +
			"so that a small change does not redo the slow install.",
	},
	{
		ID:    "runtime",
		Title: "Run as a user, check health with what the image has",
		Intro: "A runtime image runs as an unprivileged user, and its HEALTHCHECK " +
			"can only call programs the image contains.",
	},
}

// Example is one experiment of the gallery.
type Example struct {
	ID    string `json:"-"`
	Title string `json:"title"`
	// Group is the ID of the lesson the gallery lists the example under.
	Group string `json:"group"`
	// Order places the example in the gallery; the first is the starter.
	Order int `json:"order"`
	// Network and Needs label what the example's own variants need; a
	// variant may say otherwise for itself.
	Network Network `json:"network"`
	Needs   []Need  `json:"needs"`
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
	// Network and Needs are the example's unless example.json gives them
	// for the variant.
	Network Network `json:"network"`
	Needs   []Need  `json:"needs"`
	// Dockerfile is the path of the Dockerfile among Files; "Dockerfile"
	// when example.json leaves it out.
	Dockerfile string            `json:"dockerfile"`
	Target     string            `json:"target"`
	BuildArgs  map[string]string `json:"buildArgs"`
	Files      map[string]string `json:"-"`
}

// Scenario is what to do after the first build to make the lesson show:
// edit some files or build args, then build again. The lab makes the edits
// in its editor; the compare page sends them as a run's changes.
type Scenario struct {
	Description string `json:"description"`
	Edits       []Edit `json:"edits"`
}

// Edit is one change of a scenario. It either replaces the content of a
// context file (adding the file if need be) or sets build args over the
// variant's own; never both.
type Edit struct {
	Path      string            `json:"path,omitempty"`
	Content   string            `json:"content,omitempty"`
	BuildArgs map[string]string `json:"buildArgs,omitempty"`
}

// Changes are the scenario's edits as the changes of a run.
func (s *Scenario) Changes() []domain.Change {
	changes := make([]domain.Change, 0, len(s.Edits))
	for _, ed := range s.Edits {
		if ed.BuildArgs != nil {
			changes = append(changes, domain.Change{BuildArgs: maps.Clone(ed.BuildArgs)})
			continue
		}
		content := ed.Content
		changes = append(changes, domain.Change{Path: ed.Path, Content: &content})
	}
	return changes
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

// Groups returns the lessons that have examples, in gallery order, each with
// its examples in order.
func (c *Catalog) Groups() []Group {
	var out []Group
	for _, g := range groups {
		for _, e := range c.examples {
			if e.Group == g.ID {
				g.Examples = append(g.Examples, e)
			}
		}
		if len(g.Examples) > 0 {
			out = append(out, g)
		}
	}
	return out
}

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
		if v.Network == "" {
			v.Network, v.Needs = e.Network, e.Needs
		}
		cold, err := domain.DefaultLimits.Validate(v.Spec())
		if err != nil {
			return Example{}, fmt.Errorf("variant %s: %w", v.Name, err)
		}
		if e.Scenario != nil {
			changed := domain.ApplyChanges(cold, e.Scenario.Changes())
			if _, err := domain.DefaultLimits.Validate(changed); err != nil {
				return Example{}, fmt.Errorf("variant %s after the scenario: %w", v.Name, err)
			}
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
	case !slices.ContainsFunc(groups, func(g Group) bool { return g.ID == e.Group }):
		return fmt.Errorf("group %q is not a lesson of the gallery", e.Group)
	case len(e.Variants) == 0:
		return errors.New("no variants")
	}
	if err := checkNetwork(e.Network, e.Needs); err != nil {
		return err
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
		if v.Network != "" || len(v.Needs) > 0 {
			if err := checkNetwork(v.Network, v.Needs); err != nil {
				return fmt.Errorf("variant %s: %w", v.Name, err)
			}
		}
	}
	if e.Scenario != nil {
		if err := e.Scenario.check(); err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
	}
	return nil
}

// argName is what a build arg may be called: what an ARG instruction
// declares.
var argName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (s *Scenario) check() error {
	if len(s.Edits) == 0 {
		return errors.New("no edits")
	}
	for i, ed := range s.Edits {
		switch {
		case ed.BuildArgs != nil && (ed.Path != "" || ed.Content != ""):
			return fmt.Errorf("edit %d sets both a file and build args; make them two edits", i+1)
		case ed.BuildArgs != nil && len(ed.BuildArgs) == 0:
			return fmt.Errorf("edit %d sets no build args", i+1)
		case ed.BuildArgs != nil:
			for name := range ed.BuildArgs {
				if !argName.MatchString(name) {
					return fmt.Errorf("edit %d: %q is not a build arg name", i+1, name)
				}
			}
		default:
			if _, err := domain.CleanPath(ed.Path); err != nil {
				return fmt.Errorf("edit %d: %w", i+1, err)
			}
		}
	}
	return nil
}

// checkNetwork keeps a label honest: an offline build needs nothing, an
// internet one says what it needs.
func checkNetwork(n Network, needs []Need) error {
	switch n {
	case Offline:
		if len(needs) > 0 {
			return fmt.Errorf("network is offline, yet it needs %v", needs)
		}
	case Internet:
		if len(needs) == 0 {
			return errors.New("network is internet; say what it needs")
		}
	default:
		return fmt.Errorf("network is %q; want %q or %q", n, Offline, Internet)
	}
	for _, need := range needs {
		if _, ok := needTitles[need]; !ok {
			return fmt.Errorf("unknown need %q", need)
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
		files[contextName(strings.TrimPrefix(name, dir+"/"))] = string(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return files, nil
}

// contextName is the name a catalog file has in the build context.
func contextName(p string) string {
	if dir, file := path.Split(p); file == "_go.mod" {
		return dir + "go.mod"
	}
	return p
}

func merge(base, over map[string]string) map[string]string {
	out := maps.Clone(base)
	maps.Copy(out, over)
	return out
}
