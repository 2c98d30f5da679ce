package sandbox

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	cerrdefs "github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/layerlab/layerlab/sizes"
)

// imageStore is the content store BuildKit's oci exporter writes a stage's
// image into (tar=false), through the build's session. It keeps nothing on
// disk: every blob goes to a sizes.Collector as it arrives, and blobs whose
// scan the worker's layer cache holds (a base image's layers, mostly) are
// reported present, so the exporter does not send them at all.
type imageStore struct {
	k *sizes.Collector
}

var _ content.Store = imageStore{}

// Info answers for blobs the collector has; the exporter then skips them.
func (s imageStore) Info(_ context.Context, dgst digest.Digest) (content.Info, error) {
	if s.k.Has(dgst.String()) {
		return content.Info{Digest: dgst}, nil
	}
	return content.Info{}, fmt.Errorf("blob %s: %w", dgst, cerrdefs.ErrNotFound)
}

// Writer takes one blob. The exporter names its digest and size up front.
func (s imageStore) Writer(_ context.Context, opts ...content.WriterOpt) (content.Writer, error) {
	var wo content.WriterOpts
	for _, o := range opts {
		if err := o(&wo); err != nil {
			return nil, err
		}
	}
	if wo.Desc.Digest == "" || wo.Desc.Size < 0 {
		return nil, fmt.Errorf("blob without digest or size: %w", cerrdefs.ErrInvalidArgument)
	}
	if s.k.Has(wo.Desc.Digest.String()) {
		return nil, fmt.Errorf("blob %s: %w", wo.Desc.Digest, cerrdefs.ErrAlreadyExists)
	}
	return &blobWriter{ref: wo.Ref, desc: wo.Desc, started: time.Now(), k: s.k, digester: digest.Canonical.Digester()}, nil
}

func (imageStore) Update(context.Context, content.Info, ...string) (content.Info, error) {
	return content.Info{}, cerrdefs.ErrNotImplemented
}
func (imageStore) Walk(context.Context, content.WalkFunc, ...string) error { return nil }
func (imageStore) Delete(context.Context, digest.Digest) error {
	return cerrdefs.ErrNotImplemented
}
func (imageStore) ReaderAt(_ context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	return nil, fmt.Errorf("blob %s cannot be read back: %w", desc.Digest, cerrdefs.ErrNotFound)
}
func (imageStore) Status(_ context.Context, ref string) (content.Status, error) {
	return content.Status{}, fmt.Errorf("no write %s in progress: %w", ref, cerrdefs.ErrNotFound)
}
func (imageStore) ListStatuses(context.Context, ...string) ([]content.Status, error) { return nil, nil }
func (imageStore) Abort(context.Context, string) error                               { return nil }

// blobWriter hashes a blob on its way into the collector, which starts
// only with the first byte: the exporter opens a writer before it learns
// the blob is present, and then closes it unused.
type blobWriter struct {
	ref      string
	desc     ocispec.Descriptor
	started  time.Time
	k        *sizes.Collector
	digester digest.Digester

	mu     sync.Mutex
	w      *sizes.BlobWriter
	offset int64
	done   bool
}

func (b *blobWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, fmt.Errorf("blob %s: write after commit", b.desc.Digest)
	}
	if b.w == nil {
		b.w = b.k.Blob(b.desc.Digest.String(), b.desc.Size)
	}
	if b.offset+int64(len(p)) > b.desc.Size {
		return 0, fmt.Errorf("blob %s: more than its %d bytes", b.desc.Digest, b.desc.Size)
	}
	n, err := b.w.Write(p)
	b.digester.Hash().Write(p[:n])
	b.offset += int64(n)
	return n, err
}

func (b *blobWriter) Commit(_ context.Context, size int64, expected digest.Digest, _ ...content.Opt) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return fmt.Errorf("blob %s: committed twice", b.desc.Digest)
	}
	b.done = true
	if b.w == nil {
		b.w = b.k.Blob(b.desc.Digest.String(), b.desc.Size)
	}
	if size > 0 && size != b.offset {
		b.w.Abort(io.ErrUnexpectedEOF)
		return fmt.Errorf("blob %s: %d bytes written, %d committed: %w", b.desc.Digest, b.offset, size,
			cerrdefs.ErrFailedPrecondition)
	}
	if got := b.digester.Digest(); got != b.desc.Digest || (expected != "" && got != expected) {
		b.w.Abort(io.ErrUnexpectedEOF)
		return fmt.Errorf("blob %s: its bytes hash to %s: %w", b.desc.Digest, got, cerrdefs.ErrFailedPrecondition)
	}
	return b.w.Close()
}

// Close drops a blob that was not committed.
func (b *blobWriter) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done && b.w != nil {
		b.w.Abort(io.ErrUnexpectedEOF)
	}
	b.done = true
	return nil
}

func (b *blobWriter) Digest() digest.Digest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.digester.Digest()
}

func (b *blobWriter) Status() (content.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return content.Status{Ref: b.ref, Offset: b.offset, Total: b.desc.Size, Expected: b.desc.Digest,
		StartedAt: b.started, UpdatedAt: time.Now()}, nil
}

// Truncate allows only starting over before anything was written.
func (b *blobWriter) Truncate(size int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if size != 0 || b.offset != 0 {
		return fmt.Errorf("blob %s: cannot resume at %d: %w", b.desc.Digest, size, cerrdefs.ErrNotImplemented)
	}
	return nil
}
