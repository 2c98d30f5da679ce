package mirror

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// derive builds an image on base the way a Dockerfile step would: it unpacks
// base into a directory, lets change alter that tree, and appends one layer
// holding what changed, with whiteouts for what was removed.
func derive(ctx context.Context, env *Env, base v1.Image, spec imageSpec,
	change func(ctx context.Context, root string) error) (v1.Image, error) {
	root := filepath.Join(env.WorkDir, "rootfs")
	if err := unpackImage(base, root); err != nil {
		return nil, fmt.Errorf("unpack base image: %w", err)
	}
	before, err := scanTree(root)
	if err != nil {
		return nil, err
	}
	if err := change(ctx, root); err != nil {
		return nil, err
	}
	after, err := scanTree(root)
	if err != nil {
		return nil, err
	}

	layer := filepath.Join(env.WorkDir, "layer.tar.gz")
	w, err := newLayerWriter(layer)
	if err != nil {
		return nil, err
	}
	err = w.addTree(root, nil, func(rel string, _ fs.FileInfo) bool {
		old, ok := before[rel]
		return !ok || old != after[rel]
	})
	if err == nil {
		err = writeWhiteouts(w, removedPaths(before, after))
	}
	if err != nil {
		w.close()
		return nil, err
	}
	if err := w.close(); err != nil {
		return nil, err
	}
	return appendLayer(base, layer, spec)
}

// fileState is what tells a changed entry from an unchanged one. The change
// time moves with every write, chmod, chown or rename, and cannot be set
// back; directories count as changed only when their mode or owner did,
// since adding an entry touches them too.
type fileState struct {
	mode     fs.FileMode
	uid, gid uint32
	ino      uint64
	size     int64
	ctime    int64
}

func scanTree(root string) (map[string]fileState, error) {
	out := map[string]fileState{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		s := fileState{mode: fi.Mode(), uid: st.Uid, gid: st.Gid}
		if !fi.IsDir() {
			s.ino, s.size, s.ctime = st.Ino, st.Size, st.Ctim.Nano()
		}
		out[filepath.ToSlash(rel)] = s
		return nil
	})
	return out, err
}

// removedPaths lists the entries of before that after lacks, without those
// whose parent directory is gone as well: one whiteout covers a whole tree.
func removedPaths(before, after map[string]fileState) []string {
	var out []string
	for rel := range before {
		if _, ok := after[rel]; ok {
			continue
		}
		if parent := path.Dir(rel); parent != "." {
			if _, ok := after[parent]; !ok {
				continue
			}
		}
		out = append(out, rel)
	}
	slices.Sort(out)
	return out
}

func writeWhiteouts(w *layerWriter, removed []string) error {
	for _, rel := range removed {
		dir, base := path.Split(rel)
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: dir + ".wh." + base, Mode: 0o644}
		if err := w.add(hdr, nil); err != nil {
			return err
		}
	}
	return nil
}

// unpackImage applies the layers of img, in order, to the directory root,
// keeping owners and modes. It expects the trusted images of our own seed
// list, but still refuses names that leave root.
func unpackImage(img v1.Image, root string) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		err = unpackLayer(tar.NewReader(rc), root)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func unpackLayer(tr *tar.Reader, root string) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		rel := cleanName(hdr.Name)
		if rel == "" || !filepath.IsLocal(rel) {
			return fmt.Errorf("layer entry %q leaves the root", hdr.Name)
		}
		target := filepath.Join(root, filepath.FromSlash(rel))
		dir, base := filepath.Split(target)
		if base == ".wh..wh..opq" {
			if err := emptyDir(dir); err != nil {
				return err
			}
			continue
		}
		if name, ok := strings.CutPrefix(base, ".wh."); ok {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return err
			}
			continue
		}
		if err := unpackEntry(tr, hdr, root, target); err != nil {
			return fmt.Errorf("unpack %s: %w", rel, err)
		}
	}
}

func unpackEntry(tr *tar.Reader, hdr *tar.Header, root, target string) error {
	if hdr.Typeflag != tar.TypeDir {
		if err := os.RemoveAll(target); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	case tar.TypeReg:
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	case tar.TypeSymlink:
		return lchown(os.Symlink(hdr.Linkname, target), target, hdr)
	case tar.TypeLink:
		rel := cleanName(hdr.Linkname)
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("hard link to %q leaves the root", hdr.Linkname)
		}
		return os.Link(filepath.Join(root, filepath.FromSlash(rel)), target)
	default:
		return nil // devices and fifos: the runtime provides /dev
	}
	if err := lchown(nil, target, hdr); err != nil {
		return err
	}
	// After chown, which clears the setuid and setgid bits.
	return syscall.Chmod(target, uint32(hdr.Mode&0o7777))
}

func lchown(err error, target string, hdr *tar.Header) error {
	if err != nil {
		return err
	}
	return os.Lchown(target, hdr.Uid, hdr.Gid)
}

// mknod makes a character device node with the given permissions.
func mknod(path string, perm uint32, dev int) error {
	if err := syscall.Mknod(path, syscall.S_IFCHR|perm, dev); err != nil {
		return err
	}
	return syscall.Chmod(path, perm) // mknod applies the umask
}
