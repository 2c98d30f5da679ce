package sizes

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestPickManifest(t *testing.T) {
	hash := func(n int) v1.Hash {
		return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064d", n)}
	}
	image := func(n int, p *v1.Platform) v1.Descriptor {
		return v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: hash(n), Platform: p}
	}
	here := &v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	other := &v1.Platform{OS: "linux", Architecture: "riscv64"}
	attestation := v1.Descriptor{
		MediaType:   types.OCIManifestSchema1,
		Digest:      hash(9),
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
	}
	index := func(ds ...v1.Descriptor) []byte {
		b, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, Manifests: ds})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	nested := index(image(3, other), image(4, here), attestation)
	blobs := map[v1.Hash][]byte{hash(100): nested}
	blob := func(h v1.Hash) ([]byte, error) {
		if b, ok := blobs[h]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("no blob %s", h)
	}

	tests := []struct {
		name  string
		index []byte
		want  v1.Hash
		err   string
	}{
		{name: "one image", index: index(image(1, nil)), want: hash(1)},
		{
			name:  "image and its attestation",
			index: index(image(1, nil), attestation),
			want:  hash(1),
		},
		{name: "several platforms", index: index(image(1, other), image(2, here)), want: hash(2)},
		{
			name:  "nested index",
			index: index(v1.Descriptor{MediaType: types.OCIImageIndex, Digest: hash(100)}),
			want:  hash(4),
		},
		{
			name:  "several images, none for this platform",
			index: index(image(1, other), image(2, nil)),
			err:   "index holds 2 images and none for",
		},
		{name: "only an attestation", index: index(attestation), err: "no image in index"},
		{
			name:  "missing nested index",
			index: index(v1.Descriptor{MediaType: types.OCIImageIndex, Digest: hash(101)}),
			err:   "no blob",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pickManifest(tt.index, blob)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != tt.want {
				t.Errorf("picked %s, want %s", got.Digest, tt.want)
			}
		})
	}
}
