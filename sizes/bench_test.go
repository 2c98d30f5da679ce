package sizes_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/layerlab/layerlab/sizes"
	"github.com/layerlab/layerlab/sizes/internal/fixture"
)

// BenchmarkAnalyze opens and analyzes a 300 MB, 10-layer docker archive:
// with gzip layers, as BuildKit's docker exporter writes it, and with plain
// layer tars, as docker save wrote it before Docker 25, where the
// compressed sizes have to be measured by compressing. To compare with dive
// on the same archive, run sizebench (go run ./sizes/cmd/sizebench).
func BenchmarkAnalyze(b *testing.B) {
	formats := []struct {
		name   string
		format fixture.Format
	}{
		{"gzip layers", fixture.DockerGzip},
		{"plain layers", fixture.DockerPlain},
	}
	for _, f := range formats {
		b.Run(f.name, func(b *testing.B) {
			archive := filepath.Join(b.TempDir(), "bench.tar")
			if err := fixture.Write(archive, fixture.Bench(300*mb, 10), f.format); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var r *sizes.Report
			for b.Loop() {
				img, err := sizes.Open(archive)
				if err != nil {
					b.Fatal(err)
				}
				if r, err = sizes.Analyze(ctx, img); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(r.Size)
		})
	}
}
