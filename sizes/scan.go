package sizes

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// entryKind sorts tar entries by what they do to the stacked filesystem.
type entryKind uint8

const (
	kindFile     entryKind = iota // a regular file: the only kind with a size
	kindDir                       // a directory
	kindOther                     // symlink, hard link, device, fifo
	kindWhiteout                  // .wh.NAME: deletes NAME from lower layers
	kindOpaque                    // .wh..wh..opq: hides a directory's lower contents
)

// entry is what the analysis keeps of one tar entry: no content, so a layer
// of any size costs memory only in proportion to its number of entries.
type entry struct {
	path string // cleaned and absolute; for whiteouts, the path deleted
	size int64
	kind entryKind
}

// layerScan is what one streaming pass over a layer learns.
type layerScan struct {
	entries        []entry
	size           int64
	files          int
	compressedSize int64
	estimated      bool
	plainGzip      int64 // a plain tar's size gzipped, when asked for
	digest         string
	diffID         string
	mediaType      string
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	// Other names with this prefix, and what lies under them, are aufs
	// bookkeeping (.wh..wh.plnk, .wh..wh.aufs) that no container sees.
	metaPrefix = ".wh..wh."
)

// estimateLevel is compress/gzip's default level, which BuildKit pushes
// with. klauspost's encoder at the same level lands within a few percent of
// compress/gzip's size (its own default, 5, lands further off).
const estimateLevel = 6

// readBuffer is large enough that reading a blob costs few system calls and
// decompressors get long runs to work on.
const readBuffer = 1 << 20

// scanLayer reads the layer once, as a stream, and returns its entries and
// sizes. A layer stored as a plain tar is read through Uncompressed and
// compressed on the way to measure its gzip size; any other layer is read as
// stored through Compressed, so that a source which already holds the blob
// never has it recompressed.
//
// diffID comes from the image config: asking the layer would make
// go-containerregistry decompress and hash it for sources that do not
// record it, a second pass over every byte.
func scanLayer(ctx context.Context, l v1.Layer, diffID v1.Hash) (*layerScan, error) {
	mt, err := l.MediaType()
	if err != nil {
		return nil, fmt.Errorf("media type: %w", err)
	}
	plain := storedPlain(l, mt)
	if plain && !storedUncompressed(mt) {
		// Report what is stored, not the gzip type the source claims.
		mt = types.DockerUncompressedLayer
	}
	s := &layerScan{diffID: diffID.String(), mediaType: string(mt)}
	if plain {
		err = s.readPlain(ctx, l)
	} else {
		err = s.readStored(ctx, l)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// storedUncompressed reports whether a media type names a plain layer tar.
func storedUncompressed(mt types.MediaType) bool {
	switch mt {
	case types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer,
		types.DockerUncompressedLayer:
		return true
	}
	return false
}

// readPlain walks a plain layer tar and gzips it on the side, counting the
// compressed bytes without keeping them.
func (s *layerScan) readPlain(ctx context.Context, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("open layer: %w", err)
	}
	defer rc.Close()

	n, err := s.walkGzipping(ctx, bufio.NewReaderSize(rc, readBuffer))
	if err != nil {
		return err
	}
	s.compressedSize = n
	s.estimated = true
	s.digest = s.diffID
	return nil
}

// walkGzipping walks a plain layer tar and gzips it on the side, returning
// the compressed size without keeping the bytes.
func (s *layerScan) walkGzipping(ctx context.Context, r io.Reader) (int64, error) {
	var counted countWriter
	zw, err := gzip.NewWriterLevel(&counted, estimateLevel)
	if err != nil {
		return 0, fmt.Errorf("start gzip: %w", err)
	}
	if err := s.walk(ctx, io.TeeReader(r, zw)); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("finish gzip: %w", err)
	}
	return counted.n, nil
}

// readStored walks a layer as its source stores it, telling gzip, zstd and
// plain tar apart by their first bytes rather than trusting the media type.
func (s *layerScan) readStored(ctx context.Context, l v1.Layer) error {
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("open layer blob: %w", err)
	}
	defer rc.Close()
	if err := s.readBlob(ctx, rc, false); err != nil {
		return err
	}

	digest, err := l.Digest()
	if err != nil {
		return fmt.Errorf("layer digest: %w", err)
	}
	s.digest = digest.String()
	if size, err := l.Size(); err == nil && size != s.compressedSize {
		return fmt.Errorf("layer %s: blob has %d bytes, its descriptor says %d",
			s.digest, s.compressedSize, size)
	}
	return nil
}

// readBlob walks a layer blob, telling gzip, zstd and plain tar apart by
// their first bytes, and counts the blob's bytes as its compressed size.
// With estimate set, a plain tar is also gzipped on the side and the size
// of that kept in plainGzip, for a reader that learns only later whether
// the blob was meant to be stored plain.
func (s *layerScan) readBlob(ctx context.Context, r io.Reader, estimate bool) error {
	counted := &countReader{r: r}
	br := bufio.NewReaderSize(counted, readBuffer)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read layer blob: %w", err)
	}

	var src io.Reader = br
	switch compressionOf(magic) {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("open gzip stream: %w", err)
		}
		defer zr.Close()
		src = zr
	case "zstd":
		// zstd lets a frame ask for a window of up to 3.75 TB; 128 MB is
		// what the zstd tool accepts without being told, and far more
		// than BuildKit's encoder uses.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			return fmt.Errorf("open zstd stream: %w", err)
		}
		defer zr.Close()
		src = zr
	default:
		if estimate {
			if s.plainGzip, err = s.walkGzipping(ctx, br); err != nil {
				return err
			}
			src = nil // walked already
		}
	}
	if src != nil {
		if err := s.walk(ctx, src); err != nil {
			return err
		}
	}
	// Read what the decompressor left so the count covers the whole blob.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("read layer blob: %w", err)
	}
	s.compressedSize = counted.n
	return nil
}

// compressionOf names the compression a blob starts with, or "" for none.
func compressionOf(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

// walk reads the tar stream to its end, including any padding after the
// end-of-archive marker, so that a decompressor reaches its checksum and a
// tee sees every byte.
func (s *layerScan) walk(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer tar: %w", err)
		}
		s.add(hdr)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("read layer tar: %w", err)
	}
	return nil
}

// add records one tar header.
func (s *layerScan) add(hdr *tar.Header) {
	p := path.Clean("/" + hdr.Name)
	if p == "/" {
		return
	}
	dir, base := path.Split(p)
	switch {
	case base == opaqueMarker:
		s.entries = append(s.entries, entry{path: path.Clean(dir), kind: kindOpaque})
		return
	case strings.Contains(p, "/"+metaPrefix):
		return
	case strings.HasPrefix(base, whiteoutPrefix):
		target := dir + base[len(whiteoutPrefix):]
		s.entries = append(s.entries, entry{path: target, kind: kindWhiteout})
		return
	}

	e := entry{path: p, kind: kindOther}
	switch hdr.Typeflag {
	case tar.TypeDir:
		e.kind = kindDir
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont:
		e.kind = kindFile
		e.size = hdr.Size
		s.size += hdr.Size
	case tar.TypeXGlobalHeader:
		// A pax global header carries defaults for later entries, not a
		// file.
		return
	}
	if e.kind != kindDir {
		s.files++
	}
	s.entries = append(s.entries, e)
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// countWriter counts and drops what is written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
