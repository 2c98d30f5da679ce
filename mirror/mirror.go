// Package mirror keeps layerlab's local image mirror: a directory holding an
// OCI image layout, served on loopback as a read-only registry that the
// managed buildkitd uses as its docker.io mirror. A workshop room with poor
// internet, or a machine with no registry at all, still resolves FROM lines.
//
// The layout on disk is the source of truth. The registry protocol comes from
// go-containerregistry's pkg/registry, whose manifests live only in memory, so
// the mirror pushes every manifest of the layout into it at start and again
// whenever index.json changes.
//
// Images enter the mirror in two ways. Seed builds the images of Recipes
// from what this machine can reach (Debian's packages, the npm registry, the
// local Go toolchain), reproducibly, and keeps them in a cache shared by data
// directories. Import takes archives people bring: docker save, OCI layouts
// and root file system tars.
package mirror

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// platform is the only platform the mirror stores. The worker runs
// linux/amd64, and BuildKit refuses to export an image built on a base whose
// config names no platform.
var platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Annotations on the descriptors of index.json. The first carries the full
// reference as containerd and BuildKit write it; the second the bare tag, as
// the OCI image spec suggests.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// Mirror is a local image store in one directory. Its methods are safe for
// concurrent use, and several processes may share the directory: writers take
// an exclusive lock on it.
type Mirror struct {
	dir    string
	layout layout.Path
	log    *slog.Logger

	mu    sync.Mutex // guards reg and stamp
	reg   http.Handler
	stamp indexStamp
}

// Image is one tag of the mirror, as `layerlab images ls` shows it.
type Image struct {
	Ref     Ref       // the docker.io name and tag
	Digest  v1.Hash   // digest of the image manifest
	Size    int64     // bytes the mirror stores: manifest, config and layers
	Created time.Time // creation time from the image config
}

// Open opens the mirror in dir, creating an empty OCI image layout there if
// the directory holds none yet.
func Open(dir string, log *slog.Logger) (*Mirror, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	m := &Mirror{dir: dir, layout: layout.Path(dir), log: log}
	err = m.withLock(syscall.LOCK_EX, func() error {
		if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
			return nil
		}
		return newLayout(dir)
	})
	if err != nil {
		return nil, fmt.Errorf("open mirror %s: %w", dir, err)
	}
	return m, nil
}

// Dir is the directory the mirror keeps its OCI image layout in.
func (m *Mirror) Dir() string { return m.dir }

// Images lists every tag in the mirror, sorted by name and tag.
func (m *Mirror) Images() ([]Image, error) {
	var out []Image
	err := m.withLock(syscall.LOCK_SH, func() error {
		idx, err := readIndex(m.dir)
		if err != nil {
			return err
		}
		for _, desc := range idx.Manifests {
			img, err := m.describe(desc)
			if err != nil {
				return err
			}
			out = append(out, img)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref.String() < out[j].Ref.String() })
	return out, nil
}

// Empty reports whether the mirror holds no image, so that a server can seed
// it on first start. A mirror it cannot read counts as empty: seeding it will
// then fail with the reason.
func (m *Mirror) Empty() bool {
	imgs, err := m.Images()
	if err != nil {
		m.log.Warn("mirror unreadable", "dir", m.dir, "error", err)
		return true
	}
	return len(imgs) == 0
}

// Lookup returns the image that ref names, or an error wrapping
// os.ErrNotExist when the mirror has no such tag.
func (m *Mirror) Lookup(ref string) (Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Image{}, err
	}
	imgs, err := m.Images()
	if err != nil {
		return Image{}, err
	}
	for _, img := range imgs {
		if img.Ref == r {
			return img, nil
		}
	}
	return Image{}, fmt.Errorf("%s is not in the mirror: %w", r, os.ErrNotExist)
}

// Remove deletes the tag that ref names and any blob no other tag uses.
func (m *Mirror) Remove(ref string) error {
	r, err := ParseRef(ref)
	if err != nil {
		return fmt.Errorf("remove image: %w", err)
	}
	err = m.withLock(syscall.LOCK_EX, func() error {
		idx, err := readIndex(m.dir)
		if err != nil {
			return err
		}
		kept := idx.Manifests[:0:0]
		for _, desc := range idx.Manifests {
			if refOf(desc) != r {
				kept = append(kept, desc)
			}
		}
		if len(kept) == len(idx.Manifests) {
			return fmt.Errorf("%s is not in the mirror: %w", r, os.ErrNotExist)
		}
		idx.Manifests = kept
		if err := writeIndex(m.dir, idx); err != nil {
			return err
		}
		return collectGarbage(m.dir, idx, m.log)
	})
	if err != nil {
		return fmt.Errorf("remove %s: %w", r, err)
	}
	m.log.Info("image removed", "image", r.String())
	return nil
}

// addImages writes the blobs of each image and then points its tags at it in
// one rewrite of index.json, so a reader sees all of them or none. Callers
// validate the images first.
func (m *Mirror) addImages(tagged []taggedImage) error {
	return m.withLock(syscall.LOCK_EX, func() error {
		for _, t := range tagged {
			if err := m.layout.WriteImage(t.img); err != nil {
				return fmt.Errorf("write blobs of %s: %w", t.ref, err)
			}
		}
		idx, err := readIndex(m.dir)
		if err != nil {
			return err
		}
		for _, t := range tagged {
			desc, err := descriptorFor(t)
			if err != nil {
				return err
			}
			idx.Manifests = replaceRef(idx.Manifests, desc)
		}
		if err := writeIndex(m.dir, idx); err != nil {
			return err
		}
		return collectGarbage(m.dir, idx, m.log)
	})
}

// taggedImage is an image and the reference it is to be stored under.
type taggedImage struct {
	ref Ref
	img v1.Image
}

func descriptorFor(t taggedImage) (v1.Descriptor, error) {
	raw, err := t.img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("manifest of %s: %w", t.ref, err)
	}
	mt, err := t.img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("media type of %s: %w", t.ref, err)
	}
	h, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{
		MediaType: mt,
		Size:      size,
		Digest:    h,
		Platform:  &v1.Platform{OS: platform.OS, Architecture: platform.Architecture},
		Annotations: map[string]string{
			annotationImageName: t.ref.Full(),
			annotationRefName:   t.ref.Tag,
		},
	}, nil
}

// replaceRef puts desc into descs in place of any descriptor with the same
// reference, keeping the list sorted by reference so index.json stays stable.
func replaceRef(descs []v1.Descriptor, desc v1.Descriptor) []v1.Descriptor {
	r := refOf(desc)
	out := descs[:0:0]
	for _, d := range descs {
		if refOf(d) != r {
			out = append(out, d)
		}
	}
	out = append(out, desc)
	sort.SliceStable(out, func(i, j int) bool {
		return refOf(out[i]).String() < refOf(out[j]).String()
	})
	return out
}

// refOf reads the reference a descriptor of index.json is stored under. A
// descriptor written by another tool may carry only a bare tag, or nothing;
// such entries get a zero Ref and are not served.
func refOf(desc v1.Descriptor) Ref {
	r, err := ParseRef(desc.Annotations[annotationImageName])
	if err != nil {
		return Ref{}
	}
	return r
}

// describe reads the manifest and config of one descriptor for Images.
func (m *Mirror) describe(desc v1.Descriptor) (Image, error) {
	img, err := m.layout.Image(desc.Digest)
	if err != nil {
		return Image{}, fmt.Errorf("read image %s: %w", desc.Digest, err)
	}
	mf, err := img.Manifest()
	if err != nil {
		return Image{}, fmt.Errorf("read manifest %s: %w", desc.Digest, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return Image{}, fmt.Errorf("read config of %s: %w", desc.Digest, err)
	}
	size := desc.Size + mf.Config.Size
	for _, l := range mf.Layers {
		size += l.Size
	}
	return Image{Ref: refOf(desc), Digest: desc.Digest, Size: size, Created: cfg.Created.Time}, nil
}

// collectGarbage deletes the blobs that no descriptor of idx reaches. Blobs
// are immutable and named by digest, so a reader that raced us at worst finds
// a tag gone.
func collectGarbage(dir string, idx *v1.IndexManifest, log *slog.Logger) error {
	keep := map[string]bool{}
	for _, desc := range idx.Manifests {
		keep[desc.Digest.Hex] = true
		img, err := layout.Path(dir).Image(desc.Digest)
		if err != nil {
			return fmt.Errorf("collect garbage: %w", err)
		}
		mf, err := img.Manifest()
		if err != nil {
			return fmt.Errorf("collect garbage: %w", err)
		}
		keep[mf.Config.Digest.Hex] = true
		for _, l := range mf.Layers {
			keep[l.Digest.Hex] = true
		}
	}
	blobs := filepath.Join(dir, "blobs", "sha256")
	entries, err := os.ReadDir(blobs)
	if err != nil {
		return fmt.Errorf("collect garbage: %w", err)
	}
	var freed int64
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		if info, err := e.Info(); err == nil {
			freed += info.Size()
		}
		if err := os.Remove(filepath.Join(blobs, e.Name())); err != nil {
			return fmt.Errorf("collect garbage: %w", err)
		}
	}
	if freed > 0 && log != nil {
		log.Info("unused blobs removed", "dir", dir, "bytes", freed)
	}
	return nil
}

// withLock runs fn holding a lock on the mirror's directory: LOCK_SH to read
// index.json, LOCK_EX to change the layout. flock(2) also serializes separate
// processes, such as `layerlab images seed` beside a running server.
func (m *Mirror) withLock(how int, fn func() error) error {
	f, err := os.OpenFile(filepath.Join(m.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		return fmt.Errorf("lock %s: %w", m.dir, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

const ociIndexType = "application/vnd.oci.image.index.v1+json"

// newLayout writes the two files of an empty OCI image layout.
func newLayout(dir string) error {
	err := writeFileAtomic(dir, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	if err != nil {
		return err
	}
	return writeIndex(dir, &v1.IndexManifest{SchemaVersion: 2, MediaType: ociIndexType})
}

func readIndex(dir string) (*v1.IndexManifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "index.json"), err)
	}
	return idx, nil
}

// writeIndex replaces index.json in one rename, so that a reader, even one in
// another process that does not lock, never sees half a file.
func writeIndex(dir string, idx *v1.IndexManifest) error {
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	raw, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, "index.json", append(raw, '\n'))
}

func writeFileAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, name))
}
