package mirror

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// Import adds the images of the archive at path to the mirror. It takes a
// `docker save` archive, an OCI image layout (a directory or a tar of one),
// or a tar of a root file system, which becomes a one-layer linux/amd64
// image and needs ref. With ref set, the archive must hold exactly one image,
// stored under ref; without it, images keep the names the archive gives them.
//
// Import reads and checks the whole archive (every layer's digest, the
// config's diff IDs and the platform) before it writes anything, so a bad
// archive leaves the mirror as it was.
func (m *Mirror) Import(ctx context.Context, path, ref string) ([]Image, error) {
	var want *Ref
	if ref != "" {
		r, err := ParseRef(ref)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", path, err)
		}
		want = &r
	}
	tagged, cleanup, err := loadArchive(path, want)
	defer cleanup()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	for i, t := range tagged {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, err := checkImage(t.img)
		if err != nil {
			return nil, fmt.Errorf("import %s: image for %s: %w", path, t.ref, err)
		}
		tagged[i].img = img
	}
	if err := m.addImages(tagged); err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	var out []Image
	for _, t := range tagged {
		img, err := m.Lookup(t.ref.String())
		if err != nil {
			return nil, err
		}
		m.log.Info("image imported", "image", t.ref.String(), "digest", img.Digest.String(),
			"bytes", img.Size)
		out = append(out, img)
	}
	return out, nil
}

// checkImage validates every byte of img and its platform. An image whose
// config names no platform gets linux/amd64, without which BuildKit cannot
// export what is built on it.
func checkImage(img v1.Image) (v1.Image, error) {
	if err := validate.Image(img); err != nil {
		return nil, fmt.Errorf("invalid image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	switch {
	case cf.OS == "" && cf.Architecture == "":
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = platform.OS, platform.Architecture
		return mutate.ConfigFile(img, cf)
	case cf.OS != platform.OS || cf.Architecture != platform.Architecture:
		return nil, fmt.Errorf("platform is %s/%s; the mirror serves %s/%s only",
			cf.OS, cf.Architecture, platform.OS, platform.Architecture)
	}
	return img, nil
}

// loadArchive works out what kind of archive path is and opens its images.
// cleanup removes any temporary copy; it is never nil.
func loadArchive(path string, want *Ref) ([]taggedImage, func(), error) {
	nothing := func() {}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nothing, err
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "oci-layout")); err != nil {
			return nil, nothing, errors.New(
				"directory is not an OCI image layout (no oci-layout file)")
		}
		imgs, err := loadLayout(path, want)
		return imgs, nothing, err
	}
	names, err := scanTar(path)
	if err != nil {
		return nil, nothing, err
	}
	switch {
	case names["manifest.json"]:
		imgs, err := loadDockerArchive(path, want)
		return imgs, nothing, err
	case names["index.json"] && names["oci-layout"]:
		dir, err := os.MkdirTemp("", "layerlab-import-")
		if err != nil {
			return nil, nothing, err
		}
		cleanup := func() { os.RemoveAll(dir) }
		if err := extractTar(path, dir); err != nil {
			return nil, cleanup, err
		}
		imgs, err := loadLayout(dir, want)
		return imgs, cleanup, err
	case looksLikeImageArchive(names):
		return nil, nothing, errors.New("image archive has no manifest " +
			"(neither manifest.json of docker save nor index.json and oci-layout of an OCI layout)")
	}
	if want == nil {
		return nil, nothing, errors.New("a root file system tar (no manifest.json or index.json) " +
			"needs --name NAME:TAG")
	}
	img, err := rootfsImage(path)
	if err != nil {
		return nil, nothing, err
	}
	return []taggedImage{{ref: *want, img: img}}, nothing, nil
}

// scanTar reads the whole archive, gzip-compressed or not, and returns the
// names of its entries. Reading to the end is what finds a truncated file.
func scanTar(path string) (map[string]bool, error) {
	rc, _, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	names := map[string]bool{}
	tr := tar.NewReader(rc)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return nil, errors.New("empty archive: not a tar file, or one with no entries")
			}
			return names, nil
		}
		if err == nil {
			_, err = io.Copy(io.Discard, tr)
		}
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, errors.New("archive is truncated: it ends inside an entry")
		case err != nil && n == 0:
			return nil, fmt.Errorf("not a tar archive: %w", err)
		case err != nil:
			return nil, fmt.Errorf("corrupt tar archive after %d entries: %w", n, err)
		}
		names[cleanName(hdr.Name)] = true
	}
}

// openMaybeGzip opens path, decompressing it if it starts with gzip's magic.
func openMaybeGzip(path string) (io.ReadCloser, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, false, fmt.Errorf("bad gzip stream: %w", err)
		}
		return readCloser{zr, f}, true, nil
	case len(magic) == 4 && string(magic) == "\x28\xb5\x2f\xfd":
		f.Close()
		return nil, false, errors.New("archive is compressed with zstd; decompress it or use gzip")
	}
	return readCloser{br, f}, false, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func cleanName(n string) string { return strings.TrimPrefix(path.Clean("/"+n), "/") }

var (
	// docker save before Engine 25, and go-containerregistry's tarball.Write
	legacyBlobName = regexp.MustCompile(
		`^([0-9a-f]{64}/(layer\.tar|json|VERSION)|(sha256:)?[0-9a-f]{64}(\.json|\.tar|\.tar\.gz)?)$`)
	// an OCI layout, which docker save writes since Engine 25
	blobName = regexp.MustCompile(`^blobs/sha256/[0-9a-f]{64}$`)
)

// looksLikeImageArchive tells an image archive whose manifest is missing
// from a root file system tar, which has none of these names.
func looksLikeImageArchive(names map[string]bool) bool {
	if names["oci-layout"] || names["index.json"] || names["repositories"] {
		return true
	}
	for n := range names {
		if legacyBlobName.MatchString(n) || blobName.MatchString(n) {
			return true
		}
	}
	return false
}

// loadDockerArchive opens the images of a `docker save` archive.
func loadDockerArchive(path string, want *Ref) ([]taggedImage, error) {
	opener := func() (io.ReadCloser, error) {
		rc, _, err := openMaybeGzip(path)
		return rc, err
	}
	mf, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("read manifest.json: %w", err)
	}
	if len(mf) == 0 {
		return nil, errors.New("manifest.json lists no image")
	}
	if want != nil {
		if len(mf) != 1 {
			return nil, fmt.Errorf("--name picks one image, but the archive holds %d", len(mf))
		}
		img, err := tarball.Image(opener, nil)
		if err != nil {
			return nil, fmt.Errorf("read image: %w", err)
		}
		return []taggedImage{{ref: *want, img: img}}, nil
	}
	var out []taggedImage
	for i, desc := range mf {
		if len(desc.RepoTags) == 0 {
			return nil, fmt.Errorf("image %d of manifest.json has no RepoTags; "+
				"pass --name NAME:TAG (with a one-image archive)", i+1)
		}
		t, err := name.NewTag(desc.RepoTags[0])
		if err != nil {
			return nil, fmt.Errorf("image %d of manifest.json: %w", i+1, err)
		}
		img, err := tarball.Image(opener, &t)
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", t, err)
		}
		for _, tag := range desc.RepoTags {
			r, err := ParseRef(tag)
			if err != nil {
				return nil, err
			}
			out = append(out, taggedImage{ref: r, img: img})
		}
	}
	return out, nil
}

// loadLayout opens the images that the index.json of an OCI layout names.
// An image index is narrowed to its linux/amd64 image.
func loadLayout(dir string, want *Ref) ([]taggedImage, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read OCI layout: %w", err)
	}
	ii, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("read index.json: %w", err)
	}
	idx, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index.json: %w", err)
	}
	if len(idx.Manifests) == 0 {
		return nil, errors.New("index.json lists no image")
	}
	var out []taggedImage
	seen := map[v1.Hash]bool{}
	for _, desc := range idx.Manifests {
		img, err := layoutImage(ii, desc)
		if err != nil {
			return nil, err
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		if want != nil {
			if !seen[d] && len(seen) > 0 {
				return nil, errors.New("--name picks one image, but the OCI layout holds several")
			}
			seen[d] = true
			if len(out) == 0 {
				out = append(out, taggedImage{ref: *want, img: img})
			}
			continue
		}
		r, ok := layoutName(desc)
		if !ok {
			return nil, fmt.Errorf("index.json entry %s has no image name; pass --name NAME:TAG",
				desc.Digest)
		}
		ref, err := ParseRef(r)
		if err != nil {
			return nil, err
		}
		out = append(out, taggedImage{ref: ref, img: img})
	}
	return out, nil
}

func layoutImage(ii v1.ImageIndex, desc v1.Descriptor) (v1.Image, error) {
	switch {
	case desc.MediaType.IsImage():
		img, err := ii.Image(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", desc.Digest, err)
		}
		return img, nil
	case desc.MediaType.IsIndex():
		child, err := ii.ImageIndex(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("read image index %s: %w", desc.Digest, err)
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("read image index %s: %w", desc.Digest, err)
		}
		for _, c := range cm.Manifests {
			if c.MediaType.IsImage() && c.Platform != nil && c.Platform.Satisfies(platform) {
				return layoutImage(child, c)
			}
		}
		return nil, fmt.Errorf("image index %s has no %s/%s image",
			desc.Digest, platform.OS, platform.Architecture)
	}
	return nil, fmt.Errorf("index.json entry %s is a %s, not an image", desc.Digest, desc.MediaType)
}

// layoutName finds the image name of an index.json entry: containerd's full
// name, or an OCI ref.name that is a whole reference rather than a bare tag.
func layoutName(desc v1.Descriptor) (string, bool) {
	if n := desc.Annotations[annotationImageName]; n != "" {
		return n, true
	}
	if n := desc.Annotations[annotationRefName]; strings.ContainsAny(n, ":/") {
		return n, true
	}
	return "", false
}

// extractTar unpacks the regular files and directories of an OCI layout tar
// into dir, refusing names that would land outside it.
func extractTar(path, dir string) error {
	rc, _, err := openMaybeGzip(path)
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		n := cleanName(hdr.Name)
		if n == "" || !filepath.IsLocal(n) {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(n))
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeExtracted(target, tr)
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", n, err)
		}
	}
}

func writeExtracted(target string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rootfsImage makes a one-layer linux/amd64 image of a root file system tar.
func rootfsImage(path string) (v1.Image, error) {
	return appendLayer(nil, path, imageSpec{
		createdBy: "layerlab images import " + filepath.Base(path),
		created:   time.Now().UTC().Truncate(time.Second),
		env:       []string{"PATH=" + defaultPath},
	})
}
