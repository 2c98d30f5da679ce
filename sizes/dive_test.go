package sizes_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/layerlab/layerlab/sizes"
	"github.com/layerlab/layerlab/sizes/internal/divecheck"
	"github.com/layerlab/layerlab/sizes/internal/fixture"
)

const mb = 1 << 20

var dive = sync.OnceValues(func() (string, error) {
	return divecheck.Binary(context.Background())
})

// diveBinary returns dive or fails the test: the comparison is the point of
// these tests, so a missing dive is an error, never a skip.
func diveBinary(t testing.TB) string {
	t.Helper()
	bin, err := dive()
	if err != nil {
		t.Fatalf("dive is required to check the analysis and could not be had: %v\n"+
			"get it with %s, or point %s at a dive binary", err, divecheck.BuildHint,
			divecheck.EnvBinary)
	}
	return bin
}

// diveCase is an image to write and what we expect beyond agreeing with
// dive.
type diveCase struct {
	name  string
	image fixture.Image
	// wasted is the exact wasted size we expect. It differs from dive's
	// inefficient bytes by design: dive adds up every copy of a path that
	// two layers touch, the surviving copy included, and does not see files
	// hidden by an opaque directory or by deleting their whole directory.
	wasted int64
}

func diveCases() []diveCase {
	return []diveCase{
		{
			name: "overwrite",
			image: fixture.Image{Seed: 2, Steps: []fixture.Step{
				{CreatedBy: "COPY data /app", Entries: []fixture.Entry{
					{Path: "app", Kind: fixture.Dir},
					{Path: "app/data.bin", Size: 3 * mb},
					{Path: "app/keep.bin", Size: 1 * mb},
				}},
				{CreatedBy: "RUN regenerate", Entries: []fixture.Entry{
					{Path: "app", Kind: fixture.Dir},
					{Path: "app/data.bin", Size: 2 * mb},
				}},
			}},
			wasted: 3 * mb,
		},
		{
			name: "opaque dir",
			image: fixture.Image{Seed: 3, Steps: []fixture.Step{
				{CreatedBy: "RUN fill cache", Entries: []fixture.Entry{
					{Path: "opt", Kind: fixture.Dir},
					{Path: "opt/cache", Kind: fixture.Dir},
					{Path: "opt/cache/a", Size: 3 * mb},
					{Path: "opt/cache/b", Size: 2 * mb},
				}},
				{CreatedBy: "RUN rm -rf /opt/cache; mkdir /opt/cache", Entries: []fixture.Entry{
					{Path: "opt/cache", Kind: fixture.Dir},
					{Path: "opt/cache", Kind: fixture.Opaque},
					{Path: "opt/cache/c", Size: 1 * mb},
				}},
			}},
			wasted: 5 * mb,
		},
		{
			name: "deleted dir",
			image: fixture.Image{Seed: 4, Steps: []fixture.Step{
				{CreatedBy: "RUN download", Entries: []fixture.Entry{
					{Path: "tmp", Kind: fixture.Dir},
					{Path: "tmp/src", Kind: fixture.Dir},
					{Path: "tmp/src/x.tar", Size: 4 * mb},
					{Path: "tmp/src/y.tar", Size: 1 * mb},
				}},
				{CreatedBy: "RUN rm -rf /tmp/src", Entries: []fixture.Entry{
					{Path: "tmp", Kind: fixture.Dir},
					{Path: "tmp/src", Kind: fixture.Whiteout},
				}},
			}},
			wasted: 5 * mb,
		},
		{
			name: "metadata steps and links",
			image: fixture.Image{Seed: 5, Steps: []fixture.Step{
				{CreatedBy: "ADD rootfs /", Entries: []fixture.Entry{
					{Path: "bin", Kind: fixture.Dir},
					{Path: "bin/busybox", Size: 1 * mb},
					{Path: "bin/sh", Kind: fixture.Hardlink, Target: "bin/busybox"},
					{Path: "bin/ls", Kind: fixture.Symlink, Target: "busybox"},
					{Path: "etc", Kind: fixture.Dir},
					{Path: "etc/motd", Size: 300, Text: true},
				}},
				{CreatedBy: "ENV APP_SECRET=hunter2", Empty: true},
				{CreatedBy: "EXPOSE 8080", Empty: true},
				{CreatedBy: "COPY app.log /srv/", Entries: []fixture.Entry{
					{Path: "srv", Kind: fixture.Dir},
					{Path: "srv/app.log", Size: 2 * mb, Text: true},
				}},
				{CreatedBy: "USER 1000", Empty: true},
			}},
		},
	}
}

// TestAgreesWithDive writes each case in both docker archive formats, runs
// dive on it and compares the figures.
func TestAgreesWithDive(t *testing.T) {
	bin := diveBinary(t)
	formats := []struct {
		name   string
		format fixture.Format
	}{
		{"gzip blobs", fixture.DockerGzip},
		{"zstd blobs", fixture.DockerZstd},
		{"plain tars", fixture.DockerPlain},
	}
	for _, tc := range diveCases() {
		for _, f := range formats {
			t.Run(tc.name+"/"+f.name, func(t *testing.T) {
				archive := filepath.Join(t.TempDir(), "image.tar")
				if err := fixture.Write(archive, tc.image, f.format); err != nil {
					t.Fatal(err)
				}
				ours, theirs := analyzeBoth(t, bin, archive)
				compareWithDive(t, ours, theirs)
				if ours.WastedSize != tc.wasted {
					t.Errorf("wasted size = %d, want %d", ours.WastedSize, tc.wasted)
				}
			})
		}
	}
}

// TestAgreesWithDiveOnDeletedBigFile is the case the lessons show first: a
// 100 MB file written in one step and deleted in the next still costs
// 100 MB.
func TestAgreesWithDiveOnDeletedBigFile(t *testing.T) {
	bin := diveBinary(t)
	img := fixture.Image{Seed: 1, Steps: []fixture.Step{
		{CreatedBy: "RUN head -c 100M /dev/urandom > /big", Entries: []fixture.Entry{
			{Path: "big", Size: 100 * mb},
			{Path: "small", Size: 10_000},
		}},
		{CreatedBy: "RUN rm /big", Entries: []fixture.Entry{
			{Path: "big", Kind: fixture.Whiteout},
		}},
	}}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := fixture.Write(archive, img, fixture.DockerGzip); err != nil {
		t.Fatal(err)
	}
	ours, theirs := analyzeBoth(t, bin, archive)
	compareWithDive(t, ours, theirs)
	// Here dive's inefficient bytes and our wasted bytes mean the same.
	within(t, "wasted size", ours.WastedSize, theirs.Image.InefficientBytes)

	if ours.WastedSize != 100*mb {
		t.Errorf("wasted size = %d, want %d", ours.WastedSize, 100*mb)
	}
	want := sizes.WastedFile{Path: "/big", WastedSize: 100 * mb, TotalSize: 100 * mb, Layers: 2}
	if len(ours.WastedFiles) == 0 || ours.WastedFiles[0] != want {
		t.Errorf("wasted files = %+v, want first %+v", ours.WastedFiles, want)
	}
	if got := ours.Layers[0].WastedSize; got != 100*mb {
		t.Errorf("layer 0 wasted size = %d, want %d", got, 100*mb)
	}
	t.Logf("ours: size %d, wasted %d, efficiency %.2f%%; dive: size %d, inefficient %d, "+
		"efficiency %.2f%%", ours.Size, ours.WastedSize, ours.EfficiencyPercent,
		theirs.Image.SizeBytes, theirs.Image.InefficientBytes, 100*theirs.Image.EfficiencyScore)
}

func analyzeBoth(t *testing.T, bin, archive string) (*sizes.Report, *divecheck.Export) {
	t.Helper()
	ctx := context.Background()
	img, err := sizes.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := sizes.Analyze(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	run, err := divecheck.Analyze(ctx, bin, archive)
	if err != nil {
		t.Fatal(err)
	}
	return ours, &run.Export
}

// compareWithDive checks totals, per-layer sizes, inefficient bytes and the
// efficiency score within 1%.
func compareWithDive(t *testing.T, ours *sizes.Report, theirs *divecheck.Export) {
	t.Helper()
	within(t, "image size", ours.Size, theirs.Image.SizeBytes)
	within(t, "inefficient size", ours.InefficientSize, theirs.Image.InefficientBytes)
	if d := math.Abs(ours.EfficiencyPercent - 100*theirs.Image.EfficiencyScore); d > 1 {
		t.Errorf("efficiency = %.3f%%, dive says %.3f%%", ours.EfficiencyPercent,
			100*theirs.Image.EfficiencyScore)
	}

	var layers []sizes.Layer
	for _, l := range ours.Layers {
		if l.Index >= 0 {
			layers = append(layers, l)
		}
	}
	if len(layers) != len(theirs.Layers) || ours.LayerCount != len(layers) {
		t.Fatalf("%d layers (count %d), dive sees %d", len(layers), ours.LayerCount,
			len(theirs.Layers))
	}
	for i, l := range layers {
		within(t, fmt.Sprintf("layer %d size", i), l.Size, theirs.Layers[i].SizeBytes)
	}
}

// within fails unless got is within 1% of want.
func within(t *testing.T, what string, got, want int64) {
	t.Helper()
	if math.Abs(float64(got-want)) > 0.01*math.Abs(float64(want)) {
		t.Errorf("%s = %d, dive says %d", what, got, want)
	}
}
