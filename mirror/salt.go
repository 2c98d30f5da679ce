package mirror

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// SaltLabel is the config label that sets a salted copy apart.
const SaltLabel = "dev.layerlab.salt"

// Salted stores a copy of the image that ref names under a tag of its own,
// differing only in one config label. The copy shares every layer with the
// original, so pulling it costs one small blob, yet its digest is new: a
// build on it shares no cache key with builds on the original or on another
// salt. That is how a measured build starts cold on a worker whose cache
// everybody shares. Remove the returned ref when done.
func (m *Mirror) Salted(ref, salt string) (Ref, error) {
	found, err := m.Lookup(ref)
	if err != nil {
		return Ref{}, err
	}
	out := Ref{Repository: found.Ref.Repository, Tag: found.Ref.Tag + "-salt-" + salt}
	if _, err := m.Lookup(out.String()); err == nil {
		return out, nil // made for an earlier build of the same salt
	}
	img, err := m.layout.Image(found.Digest)
	if err != nil {
		return Ref{}, fmt.Errorf("read %s: %w", found.Ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return Ref{}, fmt.Errorf("config of %s: %w", found.Ref, err)
	}
	cfg = cfg.DeepCopy()
	if cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	cfg.Config.Labels[SaltLabel] = salt
	salted, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		return Ref{}, fmt.Errorf("salt %s: %w", found.Ref, err)
	}
	if err := m.addImages([]taggedImage{{ref: out, img: salted}}); err != nil {
		return Ref{}, fmt.Errorf("store salted %s: %w", found.Ref, err)
	}
	return out, nil
}
