package sizes_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/layerlab/layerlab/sizes"
	"github.com/layerlab/layerlab/sizes/internal/fixture"
)

// A collector fed the blobs all at once, in chunks of any size, as an
// exporter writing into a content store does, reports what Analyze reports;
// fed again with the same cache, it needs none of the layers.
func TestCollectorTakesBlobsAtOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := fixture.Write(p, mixedImage(), fixture.DockerGzip); err != nil {
		t.Fatal(err)
	}
	want := openAndAnalyze(t, p)
	members := readMembers(t, p)
	var index v1.IndexManifest
	for _, m := range members {
		if m.name == "index.json" {
			if err := json.Unmarshal(m.data, &index); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(index.Manifests) != 1 {
		t.Fatalf("index lists %d manifests", len(index.Manifests))
	}
	top := index.Manifests[0].Digest.String()

	cache := sizes.NewCache(1000)
	for pass, wantSent := range []int{5, 2} { // 3 layers, a config, a manifest
		k := cache.Collector(context.Background())
		var wg sync.WaitGroup
		var mu sync.Mutex
		sent := 0
		for i, m := range members {
			name, ok := strings.CutPrefix(m.name, "blobs/sha256/")
			if !ok || k.Has("sha256:"+name) {
				continue
			}
			sent++
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := k.Blob("sha256:"+name, int64(len(m.data)))
				r := rand.New(rand.NewPCG(uint64(i), uint64(pass)))
				for rest := m.data; len(rest) > 0; {
					n := min(len(rest), 1+r.IntN(5000))
					if _, err := w.Write(rest[:n]); err != nil {
						t.Error(err)
						return
					}
					rest = rest[n:]
				}
				if err := w.Close(); err != nil {
					mu.Lock()
					defer mu.Unlock()
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if sent != wantSent {
			t.Errorf("pass %d sent %d blobs, want %d", pass, sent, wantSent)
		}
		got, err := k.Report(top, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("pass %d: collector reports\n%+v\nAnalyze reports\n%+v", pass, got, want)
		}
	}
}

// A blob shorter or longer than announced is refused.
func TestCollectorChecksBlobSizes(t *testing.T) {
	k := sizes.NewCache(10).Collector(context.Background())
	w := k.Blob("sha256:abc", 10)
	if _, err := w.Write([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "7 bytes of 10") {
		t.Errorf("err = %v, want one about 7 bytes of 10", err)
	}
}
