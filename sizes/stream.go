package sizes

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// maxSmallBlob bounds the blobs a Stream keeps whole: manifests, configs and
// indexes, and layers too small to be told apart from them by their first
// bytes.
const maxSmallBlob = 4 << 20

// Stream weighs an image while it is being written as an OCI layout tar, the
// way BuildKit's oci exporter writes one: each layer blob is scanned as it
// passes, so the report is ready soon after the last byte and no copy of the
// image is stored. Write the tar to it, Close it (or CloseWithError if the
// writing failed), then ask for the Report.
type Stream struct {
	pw     *io.PipeWriter
	done   chan struct{}
	report *Report
	err    error
}

// Stream starts a Stream whose layer scans come from and go to the cache,
// which may be nil.
func (c *Cache) Stream(ctx context.Context) *Stream {
	pr, pw := io.Pipe()
	s := &Stream{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.report, s.err = c.readLayout(ctx, pr)
		if s.err != nil {
			pr.CloseWithError(s.err)
			return
		}
		// The tar has ended; take whatever padding follows so the writer
		// is not left blocked.
		_, _ = io.Copy(io.Discard, pr)
	}()
	return s
}

// Write passes the next bytes of the tar. It fails once reading has failed.
func (s *Stream) Write(p []byte) (int, error) { return s.pw.Write(p) }

// Close ends the tar.
func (s *Stream) Close() error { return s.pw.Close() }

// CloseWithError ends the tar early; Report then returns err.
func (s *Stream) CloseWithError(err error) { _ = s.pw.CloseWithError(err) }

// Report waits for the end of the stream and returns the image's report.
func (s *Stream) Report() (*Report, error) {
	<-s.done
	return s.report, s.err
}

// readLayout reads an OCI layout tar. Its members come in any order (BuildKit
// sorts them by name, so index.json comes after the blobs): blobs are
// scanned or kept as they come, and the image is put together at the end.
func (c *Cache) readLayout(ctx context.Context, r io.Reader) (*Report, error) {
	tr := tar.NewReader(r)
	k := c.Collector(ctx)
	buf := make([]byte, readBuffer)
	var index []byte
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read image archive: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(hdr.Name)
		if name == "index.json" {
			if index, err = readSmall(tr, hdr.Size); err != nil {
				return nil, fmt.Errorf("read index.json: %w", err)
			}
			continue
		}
		digest, ok := blobDigest(name)
		if !ok || k.Has(digest) {
			continue // tr.Next skips the member's bytes
		}
		w := k.Blob(digest, hdr.Size)
		if _, err := io.CopyBuffer(w, tr, buf); err != nil {
			w.Abort(err)
			return nil, fmt.Errorf("read blob %s: %w", digest, err)
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	if index == nil {
		return nil, errors.New("image archive has no index.json")
	}
	return k.Report("", index)
}

// blobDigest reads a digest from a blob's path in a layout, blobs/ALG/HEX.
func blobDigest(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "blobs/")
	if !ok {
		return "", false
	}
	alg, hex, ok := strings.Cut(rest, "/")
	if !ok || alg == "" || hex == "" || strings.Contains(hex, "/") {
		return "", false
	}
	return alg + ":" + hex, true
}

// isTar reports whether a blob starts with a ustar or GNU tar header.
func isTar(head []byte) bool {
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

func readSmall(r io.Reader, size int64) ([]byte, error) {
	if size > maxSmallBlob {
		return nil, fmt.Errorf("%d bytes is more than the %d allowed", size, maxSmallBlob)
	}
	return io.ReadAll(r)
}
