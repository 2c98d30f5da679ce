package sizes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Collector gathers the blobs of one image as they arrive, in any order and
// several at once: layer blobs are scanned as their bytes pass and
// forgotten, small blobs (manifests, configs, indexes) are kept, and layers
// the cache already knows need not be sent at all. Report then puts the
// image together. It is safe for concurrent use.
type Collector struct {
	cache *Cache
	ctx   context.Context
	mu    sync.Mutex
	small map[string][]byte
	scans map[string]*layerScan
}

// Collector starts collecting an image. The cache may be nil.
func (c *Cache) Collector(ctx context.Context) *Collector {
	return &Collector{cache: c, ctx: ctx, small: map[string][]byte{}, scans: map[string]*layerScan{}}
}

// Has reports whether the blob with this digest is known already: a layer
// the cache holds (from now on part of this image's scans, whatever the
// cache drops later) or a blob collected before.
func (k *Collector) Has(digest string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.scans[digest]; ok {
		return true
	}
	if _, ok := k.small[digest]; ok {
		return true
	}
	if s := k.cache.get(digest); s != nil {
		k.scans[digest] = s
		return true
	}
	return false
}

// Blob returns a writer for the blob with this digest and size. Write its
// bytes, then Close it to have it counted, or Abort it.
func (k *Collector) Blob(digest string, size int64) *BlobWriter {
	return &BlobWriter{k: k, digest: digest, size: size}
}

// BlobWriter takes one blob. Its first bytes tell a layer (gzip, zstd or a
// tar header) from anything else; a layer is scanned on another goroutine
// as it is written, anything else is kept if small.
type BlobWriter struct {
	k       *Collector
	digest  string
	size    int64
	written int64
	head    []byte // the first bytes, until they tell what the blob is
	decided bool
	keep    *bytes.Buffer // a small blob's bytes
	pw      *io.PipeWriter
	done    chan struct{}
	scan    *layerScan
	err     error
	closed  bool
}

// sniffLen is how many bytes tell a tar header from anything else.
const sniffLen = 262

// maxSmallBlob bounds the blobs a Collector keeps whole: manifests, configs
// and indexes, and layers too small to be told apart from them by their
// first bytes.
const maxSmallBlob = 4 << 20

// isTar reports whether a blob starts with a ustar or GNU tar header.
func isTar(head []byte) bool {
	return len(head) >= sniffLen && string(head[257:262]) == "ustar"
}

// Write takes the next bytes of the blob.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("blob writer closed")
	}
	n := len(p)
	w.written += int64(n)
	if !w.decided {
		w.head = append(w.head, p...)
		if len(w.head) < sniffLen {
			return len(p), nil
		}
		if err := w.decide(); err != nil {
			return 0, err
		}
		return n, nil // decide passed the head, p with it, on
	}
	if w.pw != nil {
		if _, err := w.pw.Write(p); err != nil {
			return 0, w.fail(err)
		}
	} else if w.keep != nil {
		if w.keep.Len()+len(p) > maxSmallBlob {
			w.keep = nil // too big to be a config; not a layer either
		} else {
			w.keep.Write(p)
		}
	}
	return n, nil
}

// decide looks at the head and sends it where the rest will follow.
func (w *BlobWriter) decide() error {
	w.decided = true
	head := w.head
	w.head = nil
	if compressionOf(head) == "" && !isTar(head) {
		if w.size <= maxSmallBlob && len(head) <= maxSmallBlob {
			w.keep = bytes.NewBuffer(head)
		}
		return nil
	}
	pr, pw := io.Pipe()
	w.pw, w.done = pw, make(chan struct{})
	go func() {
		defer close(w.done)
		s := &layerScan{}
		if err := s.readBlob(w.k.ctx, pr, true); err != nil {
			w.err = fmt.Errorf("read layer %s: %w", w.digest, err)
			pr.CloseWithError(w.err)
			return
		}
		w.scan = s
	}()
	if _, err := pw.Write(head); err != nil {
		return w.fail(err)
	}
	return nil
}

// fail prefers the scan's own error, which says more than a closed pipe.
func (w *BlobWriter) fail(err error) error {
	w.pw.CloseWithError(err)
	<-w.done
	if w.err != nil {
		return w.err
	}
	return err
}

// Close ends the blob and records it in the collector.
func (w *BlobWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if !w.decided {
		if err := w.decide(); err != nil {
			return err
		}
	}
	if w.pw != nil {
		w.pw.Close()
		<-w.done
		if w.err != nil {
			return w.err
		}
	}
	if w.written != w.size {
		w.err = fmt.Errorf("blob %s: got %d bytes of %d", w.digest, w.written, w.size)
		return w.err
	}
	k := w.k
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case w.scan != nil:
		if w.scan.compressedSize != w.size {
			w.err = fmt.Errorf("layer %s: read %d bytes of %d", w.digest, w.scan.compressedSize, w.size)
			return w.err
		}
		k.scans[w.digest] = w.scan
		k.cache.put(w.digest, w.scan)
	case w.keep != nil:
		k.small[w.digest] = w.keep.Bytes()
	}
	return nil
}

// Abort drops the blob.
func (w *BlobWriter) Abort(err error) {
	if w.closed {
		return
	}
	w.closed = true
	if w.pw != nil {
		w.pw.CloseWithError(err)
		<-w.done
	}
}

// Report puts the image together from what was collected. top is the
// digest of its manifest or of an index holding it; index, when top is
// empty, is an OCI layout's index.json.
func (k *Collector) Report(top string, index []byte) (*Report, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	blob := func(h v1.Hash) ([]byte, error) {
		b, ok := k.small[h.String()]
		if !ok {
			return nil, fmt.Errorf("blob %s is not in the image", h)
		}
		return b, nil
	}
	if top != "" {
		raw, ok := k.small[top]
		if !ok {
			return nil, fmt.Errorf("blob %s is not in the image", top)
		}
		m, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil || !m.MediaType.IsIndex() {
			// The top is the manifest itself: wrap it as a one-entry index.
			h, err := v1.NewHash(top)
			if err != nil {
				return nil, fmt.Errorf("image digest: %w", err)
			}
			index = fmt.Appendf(nil, `{"schemaVersion":2,"manifests":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
				manifestType(raw), h.String(), len(raw))
		} else {
			index = raw
		}
	}
	if index == nil {
		return nil, errors.New("image has no index.json")
	}
	desc, err := pickManifest(index, blob)
	if err != nil {
		return nil, err
	}
	rawManifest, err := blob(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	rawConfig, err := blob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	if n := len(cfg.RootFS.DiffIDs); n != len(m.Layers) {
		return nil, fmt.Errorf("image config lists %d diff ids for %d layers", n, len(m.Layers))
	}

	layers := make([]*layerScan, len(m.Layers))
	for i, l := range m.Layers {
		digest := l.Digest.String()
		s, ok := k.scans[digest]
		if !ok {
			// A layer small enough to have been kept whole.
			b, err := blob(l.Digest)
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			s = &layerScan{}
			if err := s.readBlob(k.ctx, bytes.NewReader(b), true); err != nil {
				return nil, fmt.Errorf("read layer %s: %w", digest, err)
			}
			k.cache.put(digest, s)
		}
		// Scans may be shared through the cache: fill in a copy.
		own := *s
		own.digest = digest
		own.diffID = cfg.RootFS.DiffIDs[i].String()
		own.mediaType = string(l.MediaType)
		if storedUncompressed(l.MediaType) {
			own.compressedSize = own.plainGzip
			own.estimated = true
		}
		layers[i] = &own
	}
	return report(cfg, layers, m.Annotations), nil
}

// manifestType reads a manifest's own media type, OCI's when it names none.
func manifestType(raw []byte) string {
	var head struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.MediaType == "" {
		return "application/vnd.oci.image.manifest.v1+json"
	}
	return head.MediaType
}
