// Command sizebench times layerlab's image size analysis against dive on the
// same docker archive, in one run, and prints the ratio, each side's peak
// memory and how their figures compare. Both run as child processes, so
// each one's time includes starting up and its peak memory is its own.
//
// Usage (from the repository root):
//
//	go run ./sizes/cmd/sizebench              # a generated 300 MB, 10-layer archive
//	go run ./sizes/cmd/sizebench -plain       # the same with plain layer tars
//	go run ./sizes/cmd/sizebench -runs 9 FILE # an existing docker archive
//
// dive comes from $LAYERLAB_DIVE or is built into bin/dive from the version
// pinned in sizes/internal/divetool. The exit status is 1 when our median
// time is over -target times dive's.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/layerlab/layerlab/sizes"
	"github.com/layerlab/layerlab/sizes/internal/divecheck"
	"github.com/layerlab/layerlab/sizes/internal/fixture"
)

// childFlag makes the command analyze one archive and print the report, the
// form in which the parent runs it.
const childFlag = "-analyze-child"

type config struct {
	sizeMB int64
	layers int
	plain  bool
	runs   int
	target float64
	out    io.Writer
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == childFlag {
		if err := child(os.Args[2], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sizebench:", err)
			os.Exit(2)
		}
		return
	}

	cfg := config{out: os.Stdout}
	flag.Int64Var(&cfg.sizeMB, "size", 300, "size of the generated image in MB")
	flag.IntVar(&cfg.layers, "layers", 10, "layers of the generated image")
	flag.BoolVar(&cfg.plain, "plain", false,
		"generate plain layer tars (docker save before Docker 25) instead of gzip blobs")
	flag.IntVar(&cfg.runs, "runs", 5, "runs of each side; medians are compared")
	flag.Float64Var(&cfg.target, "target", 0.5, "highest acceptable ratio of our time to dive's")
	flag.Parse()

	ok, err := run(context.Background(), cfg, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizebench:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// child is the measured side: open, analyze, print.
func child(archive string, w io.Writer) error {
	img, err := sizes.Open(archive)
	if err != nil {
		return err
	}
	r, err := sizes.Analyze(context.Background(), img)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(r)
}

// sample is one timed run of one side.
type sample struct {
	elapsed time.Duration
	maxRSS  int64
}

func run(ctx context.Context, cfg config, archive string) (bool, error) {
	if archive == "" {
		dir, err := os.MkdirTemp("", "sizebench-")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(dir)
		archive = filepath.Join(dir, "bench.tar")
		format, kind := fixture.DockerGzip, "gzip"
		if cfg.plain {
			format, kind = fixture.DockerPlain, "plain"
		}
		fmt.Fprintf(cfg.out, "writing a %d MB, %d-layer docker archive with %s layers...\n",
			cfg.sizeMB, cfg.layers, kind)
		img := fixture.Bench(cfg.sizeMB<<20, cfg.layers)
		if err := fixture.Write(archive, img, format); err != nil {
			return false, fmt.Errorf("write archive: %w", err)
		}
	}
	fi, err := os.Stat(archive)
	if err != nil {
		return false, err
	}
	dive, err := divecheck.Binary(ctx)
	if err != nil {
		return false, fmt.Errorf("%w\nget dive with %s", err, divecheck.BuildHint)
	}
	self, err := os.Executable()
	if err != nil {
		return false, err
	}

	var ours, theirs []sample
	var report sizes.Report
	var export divecheck.Export
	// Alternate the sides so that neither gets a warmer machine.
	for range cfg.runs {
		d, err := divecheck.Analyze(ctx, dive, archive)
		if err != nil {
			return false, err
		}
		theirs = append(theirs, sample{d.Elapsed, d.MaxRSS})
		export = d.Export

		s, err := runChild(ctx, self, archive, &report)
		if err != nil {
			return false, err
		}
		ours = append(ours, s)
	}

	fmt.Fprintf(cfg.out, "\narchive %s: %.0f MB on disk, %d layers, %d MB of files\n\n",
		archive, float64(fi.Size())/(1<<20), report.LayerCount, report.Size>>20)
	dt, dm := summarize(theirs)
	ot, om := summarize(ours)
	row := func(who string, t time.Duration, rss int64) {
		fmt.Fprintf(cfg.out, "%-10s %10.3f s %11.1f MB\n", who, t.Seconds(), float64(rss)/(1<<20))
	}
	fmt.Fprintf(cfg.out, "%-10s %12s %14s\n", "", "median time", "peak memory")
	row("dive", dt, dm)
	row("layerlab", ot, om)
	ratio := ot.Seconds() / dt.Seconds()
	fmt.Fprintf(cfg.out, "time ratio layerlab/dive: %.2f (target <= %.2f)\n", ratio, cfg.target)
	fmt.Fprintf(cfg.out, "memory ratio layerlab/dive: %.2f\n\n", float64(om)/float64(dm))
	compare(cfg.out, &report, &export)
	return ratio <= cfg.target, nil
}

// runChild runs the analysis in a child process and decodes its report.
func runChild(ctx context.Context, self, archive string, r *sizes.Report) (sample, error) {
	cmd := exec.CommandContext(ctx, self, childFlag, archive)
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	elapsed := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("analyze: %w", err)
	}
	if err := json.Unmarshal(out, r); err != nil {
		return sample{}, fmt.Errorf("decode report: %w", err)
	}
	return sample{elapsed, divecheck.MaxRSS(cmd.ProcessState)}, nil
}

// summarize returns the median time and the highest peak memory.
func summarize(s []sample) (time.Duration, int64) {
	times := make([]time.Duration, len(s))
	var rss int64
	for i, x := range s {
		times[i] = x.elapsed
		rss = max(rss, x.maxRSS)
	}
	slices.Sort(times)
	return times[len(times)/2], rss
}

// compare prints our figures beside dive's.
func compare(w io.Writer, r *sizes.Report, e *divecheck.Export) {
	line := func(what string, ours, theirs int64) {
		fmt.Fprintf(w, "%-28s %14d %14d %+8.3f%%\n", what, ours, theirs, pct(ours, theirs))
	}
	fmt.Fprintf(w, "%-28s %14s %14s %9s\n", "bytes", "layerlab", "dive", "diff")
	line("image size", r.Size, e.Image.SizeBytes)
	line("inefficient (dive's sense)", r.InefficientSize, e.Image.InefficientBytes)
	fmt.Fprintf(w, "%-28s %14d %14s\n", "wasted (hidden copies)", r.WastedSize, "-")
	fmt.Fprintf(w, "%-28s %13.2f%% %13.2f%%\n", "efficiency", r.EfficiencyPercent,
		100*e.Image.EfficiencyScore)
	i := 0
	for _, l := range r.Layers {
		if l.Index < 0 {
			continue
		}
		if i < len(e.Layers) {
			line(fmt.Sprintf("layer %d", l.Index), l.Size, e.Layers[i].SizeBytes)
		}
		i++
	}
	if i != len(e.Layers) {
		fmt.Fprintf(w, "layer count differs: layerlab %d, dive %d\n", i, len(e.Layers))
	}
}

func pct(ours, theirs int64) float64 {
	if theirs == 0 {
		if ours == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return 100 * float64(ours-theirs) / float64(theirs)
}
