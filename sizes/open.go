package sizes

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Open reads the image at p: an OCI layout directory (BuildKit's oci
// exporter with tar=false) or a docker archive file (docker save, BuildKit's
// docker exporter). A layout holding several images yields the one for this
// machine's platform; attestation manifests are skipped.
func Open(p string) (v1.Image, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	if fi.IsDir() {
		return openLayout(p)
	}
	return openArchive(p)
}

// openArchive opens a docker archive. go-containerregistry decides from the
// first layer whether the archive holds gzip blobs or plain tars; in the
// second case its layers still say they are gzip and would be compressed to
// answer Digest or Size, so Analyze is told they are plain.
func openArchive(p string) (v1.Image, error) {
	img, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		return nil, fmt.Errorf("open docker archive %s: %w", p, err)
	}
	plain, err := archiveHoldsPlainLayers(p)
	if err != nil {
		return nil, fmt.Errorf("open docker archive %s: %w", p, err)
	}
	if plain {
		return plainArchive{img}, nil
	}
	return img, nil
}

// archiveHoldsPlainLayers peeks at the first layer of the archive's single
// image, as go-containerregistry does, and reports whether it is a plain tar.
func archiveHoldsPlainLayers(p string) (bool, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(p) })
	if err != nil {
		return false, fmt.Errorf("read manifest.json: %w", err)
	}
	if len(m) != 1 {
		return false, fmt.Errorf("archive holds %d images, want 1", len(m))
	}
	if len(m[0].Layers) == 0 {
		return false, nil
	}
	head, err := archiveFileHead(p, m[0].Layers[0], 4)
	if err != nil {
		return false, err
	}
	gz := len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b
	zst := len(head) >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f &&
		head[3] == 0xfd
	return !gz && !zst, nil
}

// archiveFileHead returns the first n bytes of the archive member name,
// following links between members.
func archiveFileHead(archive, name string, n int) ([]byte, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for hops := 0; hops < 8; hops++ {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		tr := tar.NewReader(f)
		hdr, err := findMember(tr, name)
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			name = path.Join(path.Dir(name), hdr.Linkname)
			continue
		}
		head := make([]byte, n)
		k, err := io.ReadFull(tr, head)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return head[:k], nil
	}
	return nil, fmt.Errorf("read %s: too many links", name)
}

func findMember(tr *tar.Reader, name string) (*tar.Header, error) {
	want := path.Clean(name)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s not found in archive", name)
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		if path.Clean(hdr.Name) == want {
			return hdr, nil
		}
	}
}

// plainArchive is a docker archive image whose layers are plain tars.
type plainArchive struct{ v1.Image }

// Layers marks each layer as stored plain.
func (a plainArchive) Layers() ([]v1.Layer, error) {
	ls, err := a.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = plainLayer{l}
	}
	return out, nil
}

// plainLayer is a layer known to be stored as a plain tar. Its methods stay
// go-containerregistry's, so the image remains usable for anything else.
type plainLayer struct{ v1.Layer }

func (plainLayer) storedPlain() bool { return true }

// openLayout opens the one runnable image of an OCI layout.
func openLayout(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("open oci layout %s: %w", dir, err)
	}
	img, err := pickImage(idx)
	if err != nil {
		return nil, fmt.Errorf("open oci layout %s: %w", dir, err)
	}
	return img, nil
}

// pickImage finds the runnable images of an index, descending into nested
// indexes, and returns the only one or the one for this machine's platform.
func pickImage(idx v1.ImageIndex) (v1.Image, error) {
	var found []v1.Image
	var platforms []*v1.Platform
	var walk func(v1.ImageIndex) error
	walk = func(idx v1.ImageIndex) error {
		im, err := idx.IndexManifest()
		if err != nil {
			return fmt.Errorf("read index: %w", err)
		}
		for _, d := range im.Manifests {
			switch {
			case d.MediaType.IsIndex():
				child, err := idx.ImageIndex(d.Digest)
				if err != nil {
					return fmt.Errorf("open index %s: %w", d.Digest, err)
				}
				if err := walk(child); err != nil {
					return err
				}
			case d.MediaType.IsImage() && !isAttestation(d):
				img, err := idx.Image(d.Digest)
				if err != nil {
					return fmt.Errorf("open image %s: %w", d.Digest, err)
				}
				found = append(found, img)
				platforms = append(platforms, d.Platform)
			}
		}
		return nil
	}
	if err := walk(idx); err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, errors.New("no image in index")
	case 1:
		return found[0], nil
	}
	for i, p := range platforms {
		if p != nil && p.OS == runtime.GOOS && p.Architecture == runtime.GOARCH {
			return found[i], nil
		}
	}
	return nil, fmt.Errorf("index holds %d images and none for %s/%s",
		len(found), runtime.GOOS, runtime.GOARCH)
}

// isAttestation tells BuildKit's provenance and SBOM manifests, which ride
// along in an index as images of platform unknown/unknown.
func isAttestation(d v1.Descriptor) bool {
	if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" &&
		d.Platform.Architecture == "unknown"
}

// storedPlain reports whether l is a plain tar as stored, by its media type
// or because Open knows better than the media type.
func storedPlain(l v1.Layer, mt types.MediaType) bool {
	if p, ok := l.(interface{ storedPlain() bool }); ok && p.storedPlain() {
		return true
	}
	return storedUncompressed(mt)
}
