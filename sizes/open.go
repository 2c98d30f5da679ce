package sizes

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Open reads the image at p, which may be
//
//   - an OCI layout directory (BuildKit's oci exporter with tar=false);
//   - a tar holding an OCI layout, with or without a manifest.json beside
//     it (BuildKit's oci and docker exporters, docker save since Docker 25);
//   - a docker archive of the older kind, with layers in <id>/layer.tar.
//
// A layout holding several images yields the one for this machine's
// platform; attestation manifests are skipped. The image is meant for
// Analyze; Open reads no layer.
func Open(p string) (v1.Image, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	var img v1.Image
	if fi.IsDir() {
		img, err = openLayout(p)
	} else {
		img, err = openArchive(p)
	}
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", p, err)
	}
	return img, nil
}

// openLayout opens the runnable image of an OCI layout directory.
func openLayout(dir string) (v1.Image, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read oci layout: %w", err)
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("read oci layout: %w", err)
	}
	desc, err := pickManifest(index, lp.Bytes)
	if err != nil {
		return nil, err
	}
	return lp.Image(desc.Digest)
}

// openArchive opens a tar. One that holds an OCI layout is read through its
// descriptors, which carry every blob's digest and size; the older docker
// archive names no digests, so go-containerregistry has to hash each blob to
// learn them and the image comes from its tarball package.
func openArchive(p string) (v1.Image, error) {
	a, err := indexArchive(p)
	if err != nil {
		return nil, err
	}
	if _, ok := a.members["index.json"]; ok {
		return openOCIArchive(a)
	}
	img, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		return nil, fmt.Errorf("read docker archive: %w", err)
	}
	plain, err := a.holdsPlainLayers()
	if err != nil {
		return nil, err
	}
	if plain {
		return plainArchive{img}, nil
	}
	return img, nil
}

// pickManifest chooses the runnable image among an index's manifests,
// descending into nested indexes: the only one, or the one for this
// machine's platform.
func pickManifest(index []byte, blob func(v1.Hash) ([]byte, error)) (v1.Descriptor, error) {
	var found []v1.Descriptor
	var walk func(raw []byte, depth int) error
	walk = func(raw []byte, depth int) error {
		if depth > 4 {
			return errors.New("indexes nested too deep")
		}
		var im v1.IndexManifest
		if err := json.Unmarshal(raw, &im); err != nil {
			return fmt.Errorf("decode index: %w", err)
		}
		for _, d := range im.Manifests {
			switch {
			case d.MediaType.IsIndex():
				child, err := blob(d.Digest)
				if err != nil {
					return fmt.Errorf("read index %s: %w", d.Digest, err)
				}
				if err := walk(child, depth+1); err != nil {
					return err
				}
			case d.MediaType.IsImage() && !isAttestation(d):
				found = append(found, d)
			}
		}
		return nil
	}
	if err := walk(index, 0); err != nil {
		return v1.Descriptor{}, err
	}
	switch len(found) {
	case 0:
		return v1.Descriptor{}, errors.New("no image in index")
	case 1:
		return found[0], nil
	}
	for _, d := range found {
		if d.Platform != nil && d.Platform.OS == runtime.GOOS &&
			d.Platform.Architecture == runtime.GOARCH {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("index holds %d images and none for %s/%s",
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

// plainArchive is an older docker archive whose layers are plain tars.
// go-containerregistry labels them gzip and would compress each one to
// answer Digest or Size, so its layers tell Analyze they are plain.
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

// storedPlain reports whether l is a plain tar as stored, by its media type
// or because Open knows better than the media type.
func storedPlain(l v1.Layer, mt types.MediaType) bool {
	if p, ok := l.(interface{ storedPlain() bool }); ok && p.storedPlain() {
		return true
	}
	return storedUncompressed(mt)
}
