package sandbox

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	cerrdefs "github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/layerlab/layerlab/sizes"
)

// The store takes a blob whose bytes match its digest, then reports it
// present so the exporter does not send it twice; a blob whose bytes do
// not match is refused.
func TestImageStore(t *testing.T) {
	ctx := context.Background()
	s := imageStore{k: sizes.NewCache(100).Collector(ctx)}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}`)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(config), Size: int64(len(config))}

	if _, err := s.Info(ctx, desc.Digest); !cerrdefs.IsNotFound(err) {
		t.Fatalf("info before the write: %v, want not found", err)
	}
	w, err := s.Writer(ctx, content.WithRef("config"), content.WithDescriptor(desc))
	if err != nil {
		t.Fatal(err)
	}
	if err := content.Copy(ctx, w, bytes.NewReader(config), desc.Size, desc.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Info(ctx, desc.Digest); err != nil {
		t.Errorf("info after the write: %v", err)
	}
	if _, err := s.Writer(ctx, content.WithRef("again"), content.WithDescriptor(desc)); !cerrdefs.IsAlreadyExists(err) {
		t.Errorf("second writer: %v, want already exists", err)
	}

	other := []byte(`{"not":"the same"}`)
	bad := ocispec.Descriptor{Digest: digest.FromString("something else"), Size: int64(len(other))}
	w, err = s.Writer(ctx, content.WithRef("bad"), content.WithDescriptor(bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(other); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, bad.Size, bad.Digest); !errors.Is(err, cerrdefs.ErrFailedPrecondition) {
		t.Errorf("commit of the wrong bytes: %v, want failed precondition", err)
	}
	if _, err := s.Info(ctx, bad.Digest); !cerrdefs.IsNotFound(err) {
		t.Errorf("info of the refused blob: %v, want not found", err)
	}
}
