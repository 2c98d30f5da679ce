package mirror

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// writeRootfsTar writes a small root file system tar, gzip-compressed or not.
func writeRootfsTar(tb testing.TB, files map[string]string, gz bool) string {
	tb.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		body := files[n]
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	p := filepath.Join(tb.TempDir(), "rootfs.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// testImage builds a one-layer image holding files, for platform os/arch
// ("" leaves the config without a platform, as some tools write it).
func testImage(tb testing.TB, files map[string]string, osName, arch string) v1.Image {
	tb.Helper()
	p := writeRootfsTar(tb, files, false)
	layer, err := tarball.LayerFromFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		tb.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		tb.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = osName, arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// writeDockerArchive writes img as `docker save` would, under tags.
func writeDockerArchive(tb testing.TB, img v1.Image, tags ...string) string {
	tb.Helper()
	refs := map[name.Tag]v1.Image{}
	for _, t := range tags {
		tag, err := name.NewTag(t)
		if err != nil {
			tb.Fatal(err)
		}
		refs[tag] = img
	}
	p := filepath.Join(tb.TempDir(), "image.tar")
	if len(refs) == 0 {
		f, err := os.Create(p)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		if err := tarball.Write(nil, img, f); err != nil {
			tb.Fatal(err)
		}
		return p
	}
	if err := tarball.MultiWriteToFile(p, refs); err != nil {
		tb.Fatal(err)
	}
	return p
}

// writeOCILayout writes img into a new OCI layout directory with the given
// descriptor annotations.
func writeOCILayout(tb testing.TB, img v1.Image, annotations map[string]string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		tb.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(annotations)); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// tarDir packs a directory into a tar file.
func tarDir(tb testing.TB, dir string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "layout.tar")
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	defer tw.Close()
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		tb.Fatal(err)
	}
	return p
}

// rewriteTar copies a tar, leaving out the entries named in drop.
func rewriteTar(tb testing.TB, src string, drop ...string) string {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	p := filepath.Join(tb.TempDir(), "rewritten.tar")
	out, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	defer tw.Close()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return p
		}
		if err != nil {
			tb.Fatal(err)
		}
		if contains(drop, hdr.Name) {
			continue
		}
		tw.WriteHeader(hdr)
		io.Copy(tw, tr)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// layerFiles lists the entries of an image's layers: regular files map to
// their content, symlinks to "-> target", directories to "".
func layerFiles(tb testing.TB, img v1.Image) map[string]string {
	tb.Helper()
	layers, err := img.Layers()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			tb.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				tb.Fatal(err)
			}
			switch hdr.Typeflag {
			case tar.TypeSymlink:
				out[hdr.Name] = "-> " + hdr.Linkname
			case tar.TypeReg:
				b, _ := io.ReadAll(tr)
				out[hdr.Name] = string(b)
			default:
				out[hdr.Name] = ""
			}
		}
		rc.Close()
	}
	return out
}

// snapshot sums every file under dir, so a test can tell whether anything
// changed.
func snapshot(tb testing.TB, dir string) string {
	tb.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %x\n", strings.TrimPrefix(p, dir), sha256.Sum256(raw))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

func TestImportKinds(t *testing.T) {
	files := map[string]string{"etc/os-release": "ID=test\n", "app/run.sh": "echo hi\n"}
	amd64 := testImage(t, files, "linux", "amd64")
	noPlatform := testImage(t, files, "", "")
	layoutDir := writeOCILayout(t, amd64, map[string]string{
		"io.containerd.image.name": "docker.io/library/fromlayout:2"})

	tests := []struct {
		name    string
		path    string
		ref     string
		want    []string // tags that must exist after the import
		content bool     // whether to check the layer holds files
	}{
		{name: "docker save archive", path: writeDockerArchive(t, amd64, "saved:1", "saved:latest"),
			want: []string{"saved:1", "saved:latest"}},
		{name: "docker save archive renamed", path: writeDockerArchive(t, amd64, "saved:1"),
			ref: "renamed:3", want: []string{"renamed:3"}},
		{name: "docker save archive without platform", path: writeDockerArchive(t, noPlatform),
			ref: "noplatform:1", want: []string{"noplatform:1"}},
		{name: "OCI layout directory", path: layoutDir, want: []string{"fromlayout:2"}},
		{name: "OCI layout tar", path: tarDir(t, layoutDir), ref: "someone/fromtar:1",
			want: []string{"someone/fromtar:1"}},
		{name: "root file system tar", path: writeRootfsTar(t, files, false), ref: "rootfs:1",
			want: []string{"rootfs:1"}, content: true},
		{name: "gzipped root file system tar", path: writeRootfsTar(t, files, true),
			ref: "rootfs:gz", want: []string{"rootfs:gz"}, content: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustOpen(t)
			imgs, err := m.Import(context.Background(), tt.path, tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != len(tt.want) {
				t.Fatalf("imported %d tags, want %d", len(imgs), len(tt.want))
			}
			addr, _ := mustServe(t, m)
			for _, ref := range tt.want {
				img := pull(t, addr, ref)
				cf, err := img.ConfigFile()
				if err != nil {
					t.Fatal(err)
				}
				if cf.OS != "linux" || cf.Architecture != "amd64" {
					t.Errorf("%s: platform %s/%s, want linux/amd64", ref, cf.OS, cf.Architecture)
				}
				got := layerFiles(t, img)
				if got["etc/os-release"] != files["etc/os-release"] {
					t.Errorf("%s: layer files %v", ref, got)
				}
			}
		})
	}
}

func TestImportRejectsBadArchives(t *testing.T) {
	amd64 := testImage(t, map[string]string{"a": "b"}, "linux", "amd64")
	arm64 := testImage(t, map[string]string{"a": "b"}, "linux", "arm64")
	good := writeDockerArchive(t, amd64, "good:1")
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	plainDir := t.TempDir()
	os.WriteFile(filepath.Join(plainDir, "file"), []byte("x"), 0o644)
	emptyLayout := writeOCILayout(t, amd64, nil) // no name annotation

	tests := []struct {
		name, path, ref, err string
	}{
		{name: "truncated", path: write("trunc.tar", raw[:len(raw)/2+100]),
			err: "archive is truncated"},
		{name: "truncated gzip", path: write("trunc.tar.gz", gz.Bytes()[:gz.Len()/2]),
			err: "archive is truncated"},
		{name: "not a tar", path: write("notes.txt", []byte(strings.Repeat("not a tar archive\n", 50))),
			err: "not a tar archive"},
		{name: "empty file", path: write("empty.tar", nil), err: "empty archive"},
		{name: "missing manifest", path: rewriteTar(t, good, "manifest.json"),
			err: "image archive has no manifest"},
		{name: "rootfs without name", path: writeRootfsTar(t, map[string]string{"x": "y"}, false),
			err: "needs --name NAME:TAG"},
		{name: "wrong platform", ref: "arm:1",
			path: writeDockerArchive(t, arm64, "arm:1"),
			err:  "platform is linux/arm64; the mirror serves linux/amd64 only"},
		{name: "not a docker.io name", path: good, ref: "ghcr.io/x/y:1", err: "docker.io names only"},
		{name: "directory without layout", path: plainDir, err: "not an OCI image layout"},
		{name: "layout entry without a name", path: emptyLayout, err: "has no image name"},
		{name: "missing file", path: filepath.Join(t.TempDir(), "nope.tar"), err: "no such file"},
	}
	m := mustOpen(t)
	seedImport, err := m.Import(context.Background(), writeDockerArchive(t, amd64, "before:1"), "")
	if err != nil || len(seedImport) != 1 {
		t.Fatalf("import of a good archive: %v", err)
	}
	before := snapshot(t, m.Dir())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Import(context.Background(), tt.path, tt.ref)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err %v, want one containing %q", err, tt.err)
			}
			if !strings.Contains(err.Error(), "import ") {
				t.Errorf("err %q does not say what failed", err)
			}
			if after := snapshot(t, m.Dir()); after != before {
				t.Fatalf("a failed import changed the mirror:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}
