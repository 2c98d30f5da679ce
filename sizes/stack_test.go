package sizes

import (
	"math"
	"slices"
	"testing"
)

func file(p string, size int64) entry { return entry{path: p, size: size, kind: kindFile} }
func dir(p string) entry              { return entry{path: p, kind: kindDir} }
func whiteout(p string) entry         { return entry{path: p, kind: kindWhiteout} }
func opaque(p string) entry           { return entry{path: p, kind: kindOpaque} }

func TestStack(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]entry
		// wasted per layer; the image's wasted size is their sum
		wasted      []int64
		efficiency  float64
		inefficient int64
		files       []WastedFile
	}{
		{
			name:        "nothing touched twice",
			layers:      [][]entry{{dir("/a"), file("/a/x", 10)}, {file("/b", 5)}},
			wasted:      []int64{0, 0},
			efficiency:  100,
			inefficient: 0,
			files:       []WastedFile{},
		},
		{
			name:        "file overwritten",
			layers:      [][]entry{{file("/a", 10)}, {file("/a", 4)}},
			wasted:      []int64{10, 0},
			efficiency:  100 * 4.0 / 14,
			inefficient: 14,
			files:       []WastedFile{{Path: "/a", WastedSize: 10, TotalSize: 14, Layers: 2}},
		},
		{
			name:        "file deleted",
			layers:      [][]entry{{file("/a", 10), file("/b", 10)}, {whiteout("/a")}},
			wasted:      []int64{10, 0},
			efficiency:  100 * 10.0 / 20,
			inefficient: 10,
			files:       []WastedFile{{Path: "/a", WastedSize: 10, TotalSize: 10, Layers: 2}},
		},
		{
			// dive gives the deletion the directory's size and never sees a
			// path twice, so its score stays 100.
			name: "directory deleted",
			layers: [][]entry{
				{dir("/d"), file("/d/x", 6), file("/d/y", 4)},
				{whiteout("/d")},
			},
			wasted:      []int64{10, 0},
			efficiency:  100,
			inefficient: 0,
			files: []WastedFile{
				{Path: "/d/x", WastedSize: 6, TotalSize: 6, Layers: 2},
				{Path: "/d/y", WastedSize: 4, TotalSize: 4, Layers: 2},
			},
		},
		{
			name: "opaque directory",
			layers: [][]entry{
				{dir("/d"), file("/d/x", 6)},
				{dir("/d"), opaque("/d"), file("/d/z", 2)},
			},
			wasted:      []int64{6, 0},
			efficiency:  100,
			inefficient: 0,
			files:       []WastedFile{{Path: "/d/x", WastedSize: 6, TotalSize: 6, Layers: 2}},
		},
		{
			name: "opaque marker after the layer's own files",
			layers: [][]entry{
				{file("/d/x", 6)},
				{file("/d/z", 2), opaque("/d")},
			},
			wasted:      []int64{6, 0},
			efficiency:  100,
			inefficient: 0,
			files:       []WastedFile{{Path: "/d/x", WastedSize: 6, TotalSize: 6, Layers: 2}},
		},
		{
			name: "whiteout after the layer's own files in the directory",
			layers: [][]entry{
				{file("/d/x", 6)},
				{file("/d/new", 1), whiteout("/d")},
			},
			wasted:      []int64{6, 0},
			efficiency:  100,
			inefficient: 0,
			files:       []WastedFile{{Path: "/d/x", WastedSize: 6, TotalSize: 6, Layers: 2}},
		},
		{
			name:        "file replaced by a directory",
			layers:      [][]entry{{file("/a", 5)}, {dir("/a"), file("/a/b", 1)}},
			wasted:      []int64{5, 0},
			efficiency:  100,
			inefficient: 0,
			files:       []WastedFile{{Path: "/a", WastedSize: 5, TotalSize: 5, Layers: 2}},
		},
		{
			name:        "directory replaced by a file",
			layers:      [][]entry{{file("/a/b", 5), file("/a/c", 2)}, {file("/a", 1)}},
			wasted:      []int64{7, 0},
			efficiency:  100,
			inefficient: 0,
			files: []WastedFile{
				{Path: "/a/b", WastedSize: 5, TotalSize: 5, Layers: 2},
				{Path: "/a/c", WastedSize: 2, TotalSize: 2, Layers: 2},
			},
		},
		{
			name:        "deleted and written again",
			layers:      [][]entry{{file("/a", 5)}, {whiteout("/a")}, {file("/a", 3)}},
			wasted:      []int64{5, 0, 0},
			efficiency:  0,
			inefficient: 8,
			files:       []WastedFile{{Path: "/a", WastedSize: 5, TotalSize: 8, Layers: 3}},
		},
		{
			name:        "whiteout of a path never written",
			layers:      [][]entry{{file("/a", 5)}, {whiteout("/nope"), whiteout("/x/y")}},
			wasted:      []int64{0, 0},
			efficiency:  100,
			inefficient: 0,
			files:       []WastedFile{},
		},
		{
			name:        "written twice in one layer",
			layers:      [][]entry{{file("/a", 5), file("/a", 7)}},
			wasted:      []int64{5},
			efficiency:  100 * 5.0 / 12,
			inefficient: 12,
			files:       []WastedFile{{Path: "/a", WastedSize: 5, TotalSize: 12, Layers: 1}},
		},
		{
			name:        "opaque root",
			layers:      [][]entry{{file("/a", 5), file("/b/c", 1)}, {opaque("/"), file("/z", 1)}},
			wasted:      []int64{6, 0},
			efficiency:  100,
			inefficient: 0,
			files: []WastedFile{
				{Path: "/a", WastedSize: 5, TotalSize: 5, Layers: 2},
				{Path: "/b/c", WastedSize: 1, TotalSize: 1, Layers: 2},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(len(tt.layers))
			for i, entries := range tt.layers {
				s.apply(i, entries)
			}
			if !slices.Equal(s.layerWasted, tt.wasted) {
				t.Errorf("wasted per layer = %v, want %v", s.layerWasted, tt.wasted)
			}
			var total int64
			for _, w := range tt.wasted {
				total += w
			}
			if s.wasted != total {
				t.Errorf("wasted = %d, want %d", s.wasted, total)
			}
			eff, inefficient := s.efficiency()
			if math.Abs(eff-tt.efficiency) > 1e-9 {
				t.Errorf("efficiency = %v, want %v", eff, tt.efficiency)
			}
			if inefficient != tt.inefficient {
				t.Errorf("inefficient = %d, want %d", inefficient, tt.inefficient)
			}
			if got := s.wastedFiles(MaxWastedFiles); !slices.Equal(got, tt.files) {
				t.Errorf("wasted files = %+v, want %+v", got, tt.files)
			}
		})
	}
}

func TestWastedFilesKeepsTheLargest(t *testing.T) {
	s := newStack(2)
	var lower, upper []entry
	for i := range MaxWastedFiles + 10 {
		p := "/f" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		lower = append(lower, file(p, int64(i+1)))
		upper = append(upper, whiteout(p))
	}
	s.apply(0, lower)
	s.apply(1, upper)
	got := s.wastedFiles(MaxWastedFiles)
	if len(got) != MaxWastedFiles {
		t.Fatalf("got %d files, want %d", len(got), MaxWastedFiles)
	}
	if got[0].WastedSize != MaxWastedFiles+10 || got[len(got)-1].WastedSize != 11 {
		t.Errorf("kept sizes %d..%d, want %d..11", got[0].WastedSize,
			got[len(got)-1].WastedSize, MaxWastedFiles+10)
	}
}
