package sizes

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// archive is a tar file indexed by member name once, so that each blob can
// then be read in place, several at a time, without scanning the tar again.
type archive struct {
	file    string
	members map[string]member
}

// member is where a file's bytes lie in the archive, or which member it
// links to.
type member struct {
	offset, size int64
	link         string
}

// indexArchive reads the archive's headers, seeking over contents.
func indexArchive(file string) (*archive, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	a := &archive{file: file, members: make(map[string]member)}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			// tar.Reader stops right after the header: here the data starts.
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, fmt.Errorf("read archive: %w", err)
			}
			a.members[name] = member{offset: off, size: hdr.Size}
		case tar.TypeSymlink:
			a.members[name] = member{link: path.Join(path.Dir(name), hdr.Linkname)}
		case tar.TypeLink:
			a.members[name] = member{link: path.Clean(hdr.Linkname)}
		}
	}
}

// find resolves name, following links between members.
func (a *archive) find(name string) (member, error) {
	want := path.Clean(name)
	for range 8 {
		m, ok := a.members[want]
		if !ok {
			return member{}, fmt.Errorf("%s not found in archive", name)
		}
		if m.link == "" {
			return m, nil
		}
		want = m.link
	}
	return member{}, fmt.Errorf("%s: too many links", name)
}

// open returns a reader of the member's bytes with a file handle of its own.
func (a *archive) open(name string) (io.ReadCloser, error) {
	m, err := a.find(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(a.file)
	if err != nil {
		return nil, err
	}
	return sectionReadCloser{io.NewSectionReader(f, m.offset, m.size), f}, nil
}

func (a *archive) readAll(name string) ([]byte, error) {
	rc, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}

// holdsPlainLayers peeks at the first layer of an older docker archive, as
// go-containerregistry does to decide, and reports whether it is a plain
// tar.
func (a *archive) holdsPlainLayers() (bool, error) {
	raw, err := a.readAll("manifest.json")
	if err != nil {
		return false, fmt.Errorf("read manifest.json: %w", err)
	}
	var m tarball.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, fmt.Errorf("read manifest.json: %w", err)
	}
	if len(m) != 1 {
		return false, fmt.Errorf("archive holds %d images, want 1", len(m))
	}
	if len(m[0].Layers) == 0 {
		return false, nil
	}
	rc, err := a.open(m[0].Layers[0])
	if err != nil {
		return false, err
	}
	defer rc.Close()
	head := make([]byte, 4)
	n, err := io.ReadFull(rc, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read layer: %w", err)
	}
	return compressionOf(head[:n]) == "", nil
}

// openOCIArchive reads an OCI layout inside a tar.
func openOCIArchive(a *archive) (v1.Image, error) {
	index, err := a.readAll("index.json")
	if err != nil {
		return nil, fmt.Errorf("read index.json: %w", err)
	}
	desc, err := pickManifest(index, a.blob)
	if err != nil {
		return nil, err
	}
	rawManifest, err := a.blob(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	rawConfig, err := a.blob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	mt := desc.MediaType
	if m.MediaType != "" {
		mt = m.MediaType
	}
	core := &ociArchiveImage{
		archive:     a,
		mediaType:   mt,
		rawManifest: rawManifest,
		rawConfig:   rawConfig,
		layers:      make(map[v1.Hash]v1.Descriptor, len(m.Layers)),
	}
	for _, l := range m.Layers {
		core.layers[l.Digest] = l
	}
	return partial.CompressedToImage(core)
}

func blobName(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }

func (a *archive) blob(h v1.Hash) ([]byte, error) { return a.readAll(blobName(h)) }

// ociArchiveImage is the core of an image read from an OCI layout in a tar;
// go-containerregistry's partial package builds the rest of v1.Image on it.
type ociArchiveImage struct {
	archive     *archive
	mediaType   types.MediaType
	rawManifest []byte
	rawConfig   []byte
	layers      map[v1.Hash]v1.Descriptor
}

func (i *ociArchiveImage) RawConfigFile() ([]byte, error)      { return i.rawConfig, nil }
func (i *ociArchiveImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *ociArchiveImage) RawManifest() ([]byte, error)        { return i.rawManifest, nil }

// LayerByDigest returns the layer blob named in the manifest.
func (i *ociArchiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	d, ok := i.layers[h]
	if !ok {
		return nil, fmt.Errorf("layer %s is not in the manifest", h)
	}
	return &archiveBlob{archive: i.archive, desc: d}, nil
}

// archiveBlob is a layer blob inside the archive, described by the manifest.
// It does not know its diff ID: Analyze takes those from the config, and
// anyone else who asks has go-containerregistry hash the layer.
type archiveBlob struct {
	archive *archive
	desc    v1.Descriptor
}

func (b *archiveBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *archiveBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *archiveBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

// Compressed returns the blob as stored, whatever its compression.
func (b *archiveBlob) Compressed() (io.ReadCloser, error) {
	return b.archive.open(blobName(b.desc.Digest))
}
