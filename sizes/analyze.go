package sizes

import (
	"context"
	"fmt"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// Analyze reads every layer of img once and reports its sizes, its wasted
// bytes and its config.
//
// Layers are read as stored (Compressed) unless their media type names a
// plain tar; then the tar is read (Uncompressed) and gzipped on the side to
// measure its compressed size. go-containerregistry's tarball.Image labels
// plain layers of a docker archive as gzip and would compress each of them
// once more to answer Size; open archives with Open, which labels them
// right.
func Analyze(ctx context.Context, img v1.Image) (*Report, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}

	if n := len(cfg.RootFS.DiffIDs); n != len(layers) {
		return nil, fmt.Errorf("image config lists %d diff ids for %d layers", n, len(layers))
	}

	scans, err := scanLayers(ctx, layers, cfg.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}
	return report(cfg, scans, manifestAnnotations(img)), nil
}

// report stacks the layers' scans and reads the config into a Report.
func report(cfg *v1.ConfigFile, scans []*layerScan, annotations map[string]string) *Report {
	st := newStack(len(scans))
	for i, s := range scans {
		st.apply(i, s.entries)
	}

	r := &Report{
		Layers:     rows(cfg.History, scans, st.layerWasted),
		LayerCount: len(scans),
		WastedSize: st.wasted,
		Config:     card(cfg, annotations),
	}
	for _, s := range scans {
		r.Size += s.size
		r.CompressedSize += s.compressedSize
		r.CompressedEstimated = r.CompressedEstimated || s.estimated
		r.Files += s.files
	}
	r.EfficiencyPercent, r.InefficientSize = st.efficiency()
	r.WastedFiles = st.wastedFiles(MaxWastedFiles)
	return r
}

// scanLayers reads the layers concurrently, one per core: reading is bound by
// decompression or compression, which use one core per stream. Layers the
// cache knows (it may be nil) are not read.
func scanLayers(ctx context.Context, layers []v1.Layer, diffIDs []v1.Hash) ([]*layerScan, error) {
	scans := make([]*layerScan, len(layers))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, l := range layers {
		g.Go(func() error {
			s, err := scanLayer(ctx, l, diffIDs[i])
			if err != nil {
				return fmt.Errorf("read layer %d: %w", i, err)
			}
			scans[i] = s
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return scans, nil
}

// rows pairs history entries with layers. Entries marked empty_layer made no
// layer and get a row of their own; every other entry takes the next layer.
// Layers left over when history runs out get rows without a command; history
// entries left over when layers run out are dropped, as their layers are
// not in the image.
func rows(history []v1.History, scans []*layerScan, wasted []int64) []Layer {
	out := make([]Layer, 0, max(len(history), len(scans)))
	next := 0
	for _, h := range history {
		if h.EmptyLayer {
			out = append(out, Layer{Index: -1, CreatedBy: h.CreatedBy, EmptyLayer: true})
			continue
		}
		if next == len(scans) {
			continue
		}
		row := layerRow(next, scans[next], wasted[next])
		row.CreatedBy = h.CreatedBy
		out = append(out, row)
		next++
	}
	for ; next < len(scans); next++ {
		out = append(out, layerRow(next, scans[next], wasted[next]))
	}
	return out
}

func layerRow(i int, s *layerScan, wasted int64) Layer {
	return Layer{
		Index:               i,
		Digest:              s.digest,
		DiffID:              s.diffID,
		MediaType:           s.mediaType,
		Size:                s.size,
		CompressedSize:      s.compressedSize,
		CompressedEstimated: s.estimated,
		Files:               s.files,
		WastedSize:          wasted,
	}
}

// manifestAnnotations returns the manifest's annotations where they cost
// nothing to read: not for a docker archive of plain tars, whose manifest
// go-containerregistry would make by compressing every layer. Annotations
// only add to the report card, so failing to read them is no error.
func manifestAnnotations(img v1.Image) map[string]string {
	if _, ok := img.(plainArchive); ok {
		return nil
	}
	m, err := img.Manifest()
	if err != nil {
		return nil
	}
	return m.Annotations
}
