package sizes

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestArchiveMembers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	write := func(hdr tar.Header, body string) {
		hdr.Size = int64(len(body))
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, body); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(tar.Header{Name: "blobs/", Typeflag: tar.TypeDir}, "")
	write(tar.Header{Name: "blobs/sha256/aa", Typeflag: tar.TypeReg}, "layer bytes")
	write(tar.Header{Name: "./index.json", Typeflag: tar.TypeReg}, "{}")
	write(tar.Header{Name: "abc/layer.tar", Typeflag: tar.TypeSymlink,
		Linkname: "../blobs/sha256/aa"}, "")
	write(tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "blobs/sha256/aa"}, "")
	write(tar.Header{Name: "loop1", Typeflag: tar.TypeSymlink, Linkname: "loop2"}, "")
	write(tar.Header{Name: "loop2", Typeflag: tar.TypeSymlink, Linkname: "loop1"}, "")
	write(tar.Header{Name: "empty", Typeflag: tar.TypeReg}, "")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	a, err := indexArchive(p)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, member, want, err string
	}{
		{name: "regular file", member: "blobs/sha256/aa", want: "layer bytes"},
		{name: "name written with ./", member: "index.json", want: "{}"},
		{name: "relative symlink", member: "abc/layer.tar", want: "layer bytes"},
		{name: "hard link", member: "hard", want: "layer bytes"},
		{name: "empty file", member: "empty", want: ""},
		{name: "link cycle", member: "loop1", err: "too many links"},
		{name: "missing", member: "nope", err: "not found"},
		{name: "directory", member: "blobs", err: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.readAll(tt.member)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
		})
	}
}
