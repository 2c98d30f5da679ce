package mirror

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is the time stamped on every file, history entry and config of a
// seeded image, in the spirit of SOURCE_DATE_EPOCH: with it the digests
// depend only on what the image contains.
var epoch = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// defaultPath is the PATH that Docker's official images set.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// layerWriter writes a reproducible layer: a tar with the caller's entry
// order, every time set to epoch and no user or group names, compressed with
// gzip into a file.
type layerWriter struct {
	f  *os.File
	bw *bufio.Writer
	gz *gzip.Writer
	tw *tar.Writer
}

func newLayerWriter(path string) (*layerWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	gz, err := gzip.NewWriterLevel(bw, gzip.DefaultCompression)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &layerWriter{f: f, bw: bw, gz: gz, tw: tar.NewWriter(gz)}, nil
}

// add writes one entry; body is read for regular files only.
func (w *layerWriter) add(hdr *tar.Header, body io.Reader) error {
	hdr.ModTime = epoch
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Uname, hdr.Gname = "", ""
	hdr.Format = tar.FormatPAX
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar %s: %w", hdr.Name, err)
	}
	if hdr.Typeflag == tar.TypeReg && body != nil {
		n, err := io.Copy(w.tw, body)
		if err != nil {
			return fmt.Errorf("tar %s: %w", hdr.Name, err)
		}
		if n != hdr.Size {
			return fmt.Errorf("tar %s: size changed while reading", hdr.Name)
		}
	}
	return nil
}

func (w *layerWriter) dir(name string, mode int64) error {
	return w.add(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}, nil)
}

func (w *layerWriter) file(name string, mode int64, data string) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}
	return w.add(hdr, strings.NewReader(data))
}

func (w *layerWriter) symlink(name, target string) error {
	hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}
	return w.add(hdr, nil)
}

func (w *layerWriter) close() error {
	for _, c := range []io.Closer{w.tw, w.gz} {
		if err := c.Close(); err != nil {
			w.f.Close()
			return err
		}
	}
	if err := w.bw.Flush(); err != nil {
		w.f.Close()
		return err
	}
	return w.f.Close()
}

// addTree writes the tree under root in lexical order, keeping modes and
// numeric owners as they are on disk and hard links as links. Entries for
// which skip returns true are left out, with their contents; entries for
// which keep (when not nil) returns false are left out, but not their
// contents. Device nodes, sockets and fifos are left out: a container runtime
// makes its own /dev.
func (w *layerWriter) addTree(root string, skip func(rel string) bool,
	keep func(rel string, fi fs.FileInfo) bool) error {
	links := map[uint64]string{} // inode -> first name written
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if keep != nil && !keep(rel, fi) {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("tar %s: no unix file status", rel)
		}
		hdr := &tar.Header{Name: rel, Mode: tarMode(fi.Mode()), Uid: int(st.Uid), Gid: int(st.Gid)}
		switch {
		case fi.Mode().IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
			return w.add(hdr, nil)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
			return w.add(hdr, nil)
		case fi.Mode().IsRegular():
			if st.Nlink > 1 {
				if first, ok := links[st.Ino]; ok {
					hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
					return w.add(hdr, nil)
				}
				links[st.Ino] = rel
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
			return w.add(hdr, f)
		}
		return nil
	})
}

// tarMode turns Go's file mode into the permission and special bits of a tar
// header.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// imageSpec is what a recipe says about the image around its layer.
type imageSpec struct {
	createdBy string    // history line, as `docker history` shows it
	created   time.Time // epoch when zero
	env       []string  // replaces the base's environment when set
	cmd       []string
	workdir   string
	user      string
}

// appendLayer builds an OCI image from base (nil for an empty image) plus
// the gzip layer at path, with the platform set, every time set to epoch,
// and the config fields of spec.
func appendLayer(base v1.Image, path string, spec imageSpec) (v1.Image, error) {
	if base == nil {
		base = mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	created := spec.created
	if created.IsZero() {
		created = epoch
	}
	layer, err := tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: spec.createdBy},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = platform.OS, platform.Architecture
	cf.Created = v1.Time{Time: created}
	if spec.env != nil {
		cf.Config.Env = spec.env
	}
	if spec.cmd != nil {
		cf.Config.Cmd = spec.cmd
	}
	if spec.workdir != "" {
		cf.Config.WorkingDir = spec.workdir
	}
	if spec.user != "" {
		cf.Config.User = spec.user
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return parsedManifest{img}, nil
}

// parsedManifest makes Manifest agree with RawManifest. A tarball layer's
// descriptor carries an empty annotation map, which vanishes in the JSON, and
// validate.Image then finds the two different.
type parsedManifest struct{ v1.Image }

func (p parsedManifest) Manifest() (*v1.Manifest, error) {
	raw, err := p.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(raw))
}
