package sizes

import (
	"cmp"
	"slices"
	"strings"
)

// stack replays layers onto a model of the container's filesystem, lowest
// first, and keeps two tallies as it goes:
//
//   - wasted bytes: file content that a later layer deletes or replaces,
//     which the image still ships;
//   - dive's efficiency tally: every time a layer touches a path, the size it
//     gives the path, to compute dive's score and inefficient bytes.
type stack struct {
	root  *node
	paths map[string]*pathStat
	// layerWasted[i] is the part of layer i that later layers hide.
	layerWasted []int64
	wasted      int64
}

// node is one path of the stacked filesystem as it looks after the layers
// replayed so far.
type node struct {
	children map[string]*node
	stat     *pathStat // nil for directories
	size     int64
	layer    int // the layer that last wrote this path
	dir      bool
}

// pathStat accumulates what happened to one path over all layers. It
// outlives the node, so a path deleted and written again keeps one history.
type pathStat struct {
	path      string
	layers    int // layers that wrote or deleted the path
	lastLayer int
	wasted    int64
	total     int64 // bytes of every copy, for WastedFile.TotalSize

	// dive's tally: how often a layer touched the path, the sum of the
	// sizes it was given and the smallest of them.
	touches   int
	diveTotal int64
	diveMin   int64
}

func newStack(layers int) *stack {
	return &stack{
		root:        &node{dir: true, layer: -1},
		paths:       make(map[string]*pathStat),
		layerWasted: make([]int64, layers),
	}
}

// apply replays one layer's entries. Deletions act only on what lower
// layers wrote, as the OCI layer spec says, whatever the order of entries in
// the tar.
func (s *stack) apply(layer int, entries []entry) {
	for _, e := range entries {
		switch e.kind {
		case kindWhiteout:
			s.whiteout(layer, e.path)
		case kindOpaque:
			if n := s.lookup(e.path); n != nil && n.dir {
				s.hideChildren(layer, n, e.path)
			}
		default:
			s.write(layer, e)
		}
	}
}

// write puts one entry at its path, replacing whatever was there.
func (s *stack) write(layer int, e entry) {
	parent := s.root
	parentPath := ""
	rest := e.path[1:]
	for {
		name, tail, more := strings.Cut(rest, "/")
		if !more {
			s.put(layer, parent, parentPath, name, e)
			return
		}
		parentPath += "/" + name
		parent = s.ensureDir(layer, parent, parentPath, name)
		rest = tail
	}
}

// ensureDir returns the directory name under parent, creating it when
// missing and replacing a file that stood in its way.
func (s *stack) ensureDir(layer int, parent *node, p, name string) *node {
	child := parent.children[name]
	if child != nil && child.dir {
		return child
	}
	if child != nil {
		s.hide(layer, child, p)
	}
	child = &node{dir: true, layer: layer}
	parent.child(name, child)
	return child
}

// put writes e as parent's child name.
func (s *stack) put(layer int, parent *node, parentPath, name string, e entry) {
	p := parentPath + "/" + name
	old := parent.children[name]
	if e.kind == kindDir {
		if old != nil && old.dir {
			old.layer = layer
			return
		}
		if old != nil {
			s.hide(layer, old, p)
		}
		parent.child(name, &node{dir: true, layer: layer})
		return
	}

	if old != nil {
		s.hide(layer, old, p)
	}
	st := s.stat(p)
	st.touch(layer)
	st.total += e.size
	st.tally(e.size)
	parent.child(name, &node{stat: st, size: e.size, layer: layer})
}

// whiteout deletes path from the lower layers. dive gives the deletion the
// size of the directory it removes, or nothing for a file, and only when the
// path existed; the tally does the same so the scores agree. On a whiteout
// for a path that never existed dive stops tallying the rest of that layer,
// which we do not copy: there the scores can differ.
func (s *stack) whiteout(layer int, p string) {
	parent, name := s.lookupParent(p)
	if parent == nil || parent.children[name] == nil {
		return
	}
	n := parent.children[name]
	if !n.dir && n.layer == layer {
		// A whiteout only deletes what lower layers wrote.
		return
	}
	var size int64
	if n.dir {
		size = lowerSize(n, layer)
	}
	s.stat(p).tally(size)
	if s.hide(layer, n, p) {
		delete(parent.children, name)
	}
}

// hide removes what lower layers wrote at n (a file, or everything under a
// directory), counting it as wasted. It reports whether n itself is gone;
// a directory stays when the current layer wrote it or something in it.
//
// A hard link elsewhere keeps a deleted file's bytes alive, yet they count
// as wasted here: images that delete one name of a hard-linked file get
// their waste overstated. Tracking groups of links would fix that.
func (s *stack) hide(layer int, n *node, p string) bool {
	if !n.dir {
		st := n.stat
		st.touch(layer)
		st.wasted += n.size
		s.layerWasted[n.layer] += n.size
		s.wasted += n.size
		return true
	}
	s.hideChildren(layer, n, p)
	return n.layer < layer && len(n.children) == 0
}

// hideChildren removes what lower layers wrote under the directory n.
func (s *stack) hideChildren(layer int, n *node, p string) {
	for name, child := range n.children {
		if !child.dir && child.layer == layer {
			continue
		}
		if s.hide(layer, child, p+"/"+name) {
			delete(n.children, name)
		}
	}
}

// lowerSize adds up the file bytes under n that lower layers wrote.
func lowerSize(n *node, layer int) int64 {
	if !n.dir {
		if n.layer < layer {
			return n.size
		}
		return 0
	}
	var sum int64
	for _, child := range n.children {
		sum += lowerSize(child, layer)
	}
	return sum
}

// lookup finds the node at p, or nil.
func (s *stack) lookup(p string) *node {
	parent, name := s.lookupParent(p)
	if parent == nil {
		return nil
	}
	if name == "" {
		return parent
	}
	return parent.children[name]
}

// lookupParent finds the directory that holds p and p's last element.
func (s *stack) lookupParent(p string) (*node, string) {
	n := s.root
	rest := strings.TrimPrefix(p, "/")
	for {
		name, tail, more := strings.Cut(rest, "/")
		if !more {
			return n, name
		}
		n = n.children[name]
		if n == nil || !n.dir {
			return nil, ""
		}
		rest = tail
	}
}

func (n *node) child(name string, c *node) {
	if n.children == nil {
		n.children = make(map[string]*node)
	}
	n.children[name] = c
}

// stat returns the record for path p, creating it.
func (s *stack) stat(p string) *pathStat {
	st := s.paths[p]
	if st == nil {
		st = &pathStat{path: p, lastLayer: -1, diveMin: -1}
		s.paths[p] = st
	}
	return st
}

// touch counts layer once among the layers that wrote or deleted the path.
func (st *pathStat) touch(layer int) {
	if st.lastLayer != layer {
		st.lastLayer = layer
		st.layers++
	}
}

func (st *pathStat) tally(size int64) {
	st.touches++
	st.diveTotal += size
	if st.diveMin < 0 || size < st.diveMin {
		st.diveMin = size
	}
}

// efficiency returns dive's score as a percentage and its inefficient bytes.
func (s *stack) efficiency() (percent float64, inefficient int64) {
	var minSum, total int64
	for _, st := range s.paths {
		if st.touches == 0 {
			continue
		}
		minSum += st.diveMin
		total += st.diveTotal
		if st.touches > 1 {
			inefficient += st.diveTotal
		}
	}
	if total == 0 {
		return 100, inefficient
	}
	return 100 * float64(minSum) / float64(total), inefficient
}

// wastedFiles returns the paths with wasted bytes, most first, at most max.
func (s *stack) wastedFiles(max int) []WastedFile {
	out := []WastedFile{}
	for _, st := range s.paths {
		if st.wasted == 0 {
			continue
		}
		out = append(out, WastedFile{
			Path:       st.path,
			WastedSize: st.wasted,
			TotalSize:  st.total,
			Layers:     st.layers,
		})
	}
	slices.SortFunc(out, func(a, b WastedFile) int {
		if c := cmp.Compare(b.WastedSize, a.WastedSize); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
	if len(out) > max {
		out = out[:max]
	}
	return out
}
