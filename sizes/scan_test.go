package sizes

import (
	"archive/tar"
	"slices"
	"testing"
)

func TestScanAdd(t *testing.T) {
	tests := []struct {
		name  string
		hdr   tar.Header
		want  []entry
		size  int64
		files int
	}{
		{
			name:  "regular file with a dot prefix",
			hdr:   tar.Header{Name: "./usr/bin/app", Typeflag: tar.TypeReg, Size: 42},
			want:  []entry{file("/usr/bin/app", 42)},
			size:  42,
			files: 1,
		},
		{
			name: "directory with a trailing slash",
			hdr:  tar.Header{Name: "usr/lib/", Typeflag: tar.TypeDir},
			want: []entry{dir("/usr/lib")},
		},
		{
			name:  "symlink",
			hdr:   tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox"},
			want:  []entry{{path: "/bin/sh", kind: kindOther}},
			files: 1,
		},
		{
			// A hard link shares its target's bytes; counting them again
			// would overstate the layer.
			name: "hard link with a size",
			hdr: tar.Header{
				Name: "bin/ls", Typeflag: tar.TypeLink, Linkname: "bin/busybox", Size: 9,
			},
			want:  []entry{{path: "/bin/ls", kind: kindOther}},
			files: 1,
		},
		{
			name: "whiteout",
			hdr:  tar.Header{Name: "etc/.wh.motd", Typeflag: tar.TypeReg},
			want: []entry{whiteout("/etc/motd")},
		},
		{
			name: "whiteout at the root",
			hdr:  tar.Header{Name: ".wh.big", Typeflag: tar.TypeReg},
			want: []entry{whiteout("/big")},
		},
		{
			name: "opaque marker",
			hdr:  tar.Header{Name: "opt/cache/.wh..wh..opq", Typeflag: tar.TypeReg},
			want: []entry{opaque("/opt/cache")},
		},
		{
			name: "aufs hard link directory",
			hdr:  tar.Header{Name: ".wh..wh.plnk/123.456", Typeflag: tar.TypeReg, Size: 7},
		},
		{
			name: "the root itself",
			hdr:  tar.Header{Name: "./", Typeflag: tar.TypeDir},
		},
		{
			name: "a name climbing out of the root",
			hdr:  tar.Header{Name: "../../etc/passwd", Typeflag: tar.TypeReg, Size: 5},
			want: []entry{file("/etc/passwd", 5)},
			size: 5, files: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s layerScan
			s.add(&tt.hdr)
			if !slices.Equal(s.entries, tt.want) {
				t.Errorf("entries = %+v, want %+v", s.entries, tt.want)
			}
			if s.size != tt.size || s.files != tt.files {
				t.Errorf("size, files = %d, %d, want %d, %d", s.size, s.files, tt.size, tt.files)
			}
		})
	}
}
