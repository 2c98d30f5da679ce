package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
	"golang.org/x/sync/errgroup"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/sizes"
)

// layerCacheEntries bounds the tar entries the worker keeps from scanning
// layers, about 50 MB: enough for the base images of every example.
const layerCacheEntries = 500_000

// measureAtOnce is how many stage exports run together. Exporting a stage
// compresses its new layers on one of the daemon's cores and analysing it
// decompresses them on one of ours, so two keep a small machine busy.
const measureAtOnce = 2

// measure exports the image of every stage the target needed, one solve per
// stage (all cached by then), and weighs its layers as the export streams
// in: nothing is written to disk, and layers weighed before (a base image's)
// are not read again. Each stage's size is emitted as soon as it is known;
// the final image's report comes last.
func (w *Worker) measure(ctx context.Context, dir string, spec domain.Spec, p *plan, policy *spb.Policy,
	emit func(domain.Event)) error {
	start := time.Now()
	exports := dir + "-images"
	if err := os.MkdirAll(exports, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(exports)
	dfDir, err := writeNamedDockerfile(exports, spec.Files[spec.Dockerfile], p)
	if err != nil {
		return err
	}

	final := len(p.stages) - 1
	if spec.Target != "" {
		for i, st := range p.stages {
			if st.Name == strings.ToLower(spec.Target) {
				final = i
			}
		}
	}
	var mu sync.Mutex
	reports := map[int]*sizes.Report{}
	sized := map[int]domain.StageSize{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(measureAtOnce)
	// The final stage goes first: it is the one people look at, and often
	// the smallest.
	order := []int{final}
	for i, st := range p.stages {
		if !st.Skipped && i != final {
			order = append(order, i)
		}
	}
	for _, i := range order {
		name := p.stages[i].Name
		g.Go(func() error {
			stageStart := time.Now()
			rep, digest, err := w.exportStage(gctx, dir, dfDir, spec, policy, exportTarget(p, i), fmt.Sprintf("stage-%d", i))
			if err != nil {
				return fmt.Errorf("measure stage %s: %w", name, err)
			}
			w.log.Debug("stage measured", "stage", name, "duration_ms", time.Since(stageStart).Milliseconds(),
				"size", rep.Size, "compressed", rep.CompressedSize)
			size := stageSize(p, i, rep)
			size.Digest = digest
			mu.Lock()
			defer mu.Unlock()
			reports[i], sized[i] = rep, size
			emit(domain.Event{Type: domain.EventStageSize, Size: &size})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	var sizesOut []domain.StageSize
	for i := range p.stages {
		if s, ok := sized[i]; ok {
			sizesOut = append(sizesOut, s)
		}
	}
	report := imageReport(p, final, reports[final], sizesOut)
	report.MeasureMs = time.Since(start).Milliseconds()
	emit(domain.Event{Type: domain.EventImage, Image: &report})
	entries, bytes := w.layers.Size()
	w.log.Debug("images measured", "stages", len(reports), "duration_ms", time.Since(start).Milliseconds(),
		"cached_layers", w.layers.Len(), "cached_entries", entries, "cached_bytes", bytes)
	return nil
}

// exportStage solves the Dockerfile for one stage and weighs the image its
// OCI exporter writes into an imageStore. Everything is cached by now; the
// cost is the export, mostly compressing the stage's new layers, as layers
// weighed before are not even sent.
func (w *Worker) exportStage(ctx context.Context, dir, dfDir string, spec domain.Spec, policy *spb.Policy,
	target, key string) (*sizes.Report, string, error) {
	spec.Options.NoCache = false
	opt, err := solveOpt(dir, dfDir, "Dockerfile", target, spec, policy,
		"layerlab-"+key+"-"+filepath.Base(dir))
	if err != nil {
		return nil, "", err
	}
	image := w.layers.Collector(ctx)
	opt.Exports = []client.ExportEntry{{
		Type:        client.ExporterOCI,
		Attrs:       map[string]string{"compression": "gzip", "tar": "false"},
		OutputStore: imageStore{k: image},
	}}
	resp, err := w.client.Solve(ctx, nil, opt, nil)
	if err != nil {
		return nil, "", fmt.Errorf("export image: %w", err)
	}
	digest := resp.ExporterResponse[exptypes.ExporterImageDigestKey]
	if digest == "" {
		return nil, "", errors.New("export image: the exporter named no image digest")
	}
	rep, err := image.Report(digest, nil)
	if err != nil {
		return nil, "", fmt.Errorf("weigh image: %w", err)
	}
	return rep, digest, nil
}

// writeNamedDockerfile writes a copy of the Dockerfile in which every
// unnamed stage gets a name, since only named stages can be a target. The
// names go at the end of the FROM line, so no line moves.
func writeNamedDockerfile(dir string, dockerfile []byte, p *plan) (string, error) {
	lines := strings.Split(string(dockerfile), "\n")
	for i, st := range p.stages {
		if !st.Skipped && st.Name == fmt.Sprintf("stage-%d", i) && st.Line.End > 0 && st.Line.End <= len(lines) {
			l := strings.TrimRight(lines[st.Line.End-1], "\r")
			lines[st.Line.End-1] = l + " AS " + exportTarget(p, i)
		}
	}
	dfDir := filepath.Join(dir, "dockerfile")
	if err := os.MkdirAll(dfDir, 0o700); err != nil {
		return "", err
	}
	return dfDir, os.WriteFile(filepath.Join(dfDir, "Dockerfile"), []byte(strings.Join(lines, "\n")), 0o600)
}

// exportTarget is the target that builds stage i in the named copy.
func exportTarget(p *plan, i int) string {
	if p.stages[i].Name == fmt.Sprintf("stage-%d", i) {
		return fmt.Sprintf("layerlab-export-%d", i)
	}
	return p.stages[i].Name
}

// stageSize splits a stage's image into the base's share and one row per
// instruction. History entries are matched to instructions from the end:
// BuildKit writes one entry for each instruction that changes the image,
// in order, after the base's own entries.
func stageSize(p *plan, i int, rep *sizes.Report) domain.StageSize {
	size := domain.StageSize{
		Name:            p.stages[i].Name,
		SizeBytes:       rep.Size,
		CompressedBytes: rep.CompressedSize,
		Layers:          rep.LayerCount,
		WastedBytes:     rep.WastedSize,
	}
	instrs := p.instrs[i]
	rows := make([]domain.SizeRow, len(instrs))
	matched := make([]bool, len(instrs))
	h := len(rep.Layers) - 1
	for c := len(instrs) - 1; c >= 0 && h >= 0; c-- {
		if !strings.HasPrefix(strings.TrimSpace(rep.Layers[h].CreatedBy), instrs[c].keyword) {
			continue // the instruction wrote no history entry (EXPOSE, ONBUILD...)
		}
		rows[c] = row(instrs[c], rep.Layers[h])
		matched[c] = true
		h--
	}
	for c := range instrs {
		if !matched[c] {
			rows[c] = domain.SizeRow{Instruction: instrs[c].text, Line: lineOf(instrs[c])}
		}
	}

	base := domain.SizeRow{Base: true, Instruction: "FROM " + p.stages[i].Base, Line: &p.stages[i].Line}
	for _, l := range rep.Layers[:h+1] {
		base.SizeBytes += l.Size
		base.CompressedBytes += l.CompressedSize
		base.WastedBytes += l.WastedSize
		if !l.EmptyLayer {
			base.Layers++
		}
	}
	size.Rows = append([]domain.SizeRow{base}, rows...)
	return size
}

func row(in instr, l sizes.Layer) domain.SizeRow {
	r := domain.SizeRow{
		Instruction:     in.text,
		Line:            lineOf(in),
		SizeBytes:       l.Size,
		CompressedBytes: l.CompressedSize,
		WastedBytes:     l.WastedSize,
	}
	if !l.EmptyLayer {
		r.Layers = 1
	}
	return r
}

func lineOf(in instr) *domain.LineRange {
	l := in.line
	return &l
}

// imageReport is the final image's report card, with what the stages the
// build did not ship weighed.
func imageReport(p *plan, final int, rep *sizes.Report, stages []domain.StageSize) domain.ImageReport {
	c := rep.Config
	out := domain.ImageReport{
		Stage:             p.stages[final].Name,
		Digest:            digestOf(stages, p.stages[final].Name),
		SizeBytes:         rep.Size,
		CompressedBytes:   rep.CompressedSize,
		Layers:            rep.LayerCount,
		WastedBytes:       rep.WastedSize,
		EfficiencyPercent: rep.EfficiencyPercent,
		WastedFiles:       []domain.WastedFile{},
		Base:              rootBase(p, final),
		User:              c.User,
		RunsAsRoot:        c.RunsAsRoot,
		ExposedPorts:      c.ExposedPorts,
		Entrypoint:        c.Entrypoint,
		Cmd:               c.Cmd,
		WorkingDir:        c.WorkingDir,
		EnvNames:          c.EnvNames,
		KeptOut:           []domain.StageSize{},
	}
	if c.Healthcheck != nil && !c.Healthcheck.Disabled {
		out.Healthcheck = c.Healthcheck.Test
	}
	for _, f := range rep.WastedFiles {
		out.WastedFiles = append(out.WastedFiles, domain.WastedFile{Path: f.Path, WastedBytes: f.WastedSize, Layers: f.Layers})
	}
	// The final stage and the stages it is built FROM ship; the rest were
	// built and left out.
	shipped := map[string]bool{}
	for i := final; i >= 0; i = p.parent[i] {
		shipped[p.stages[i].Name] = true
	}
	biggest := rep.Size
	for _, s := range stages {
		if shipped[s.Name] {
			continue
		}
		kept := s
		kept.Rows = nil
		out.KeptOut = append(out.KeptOut, kept)
		biggest = max(biggest, s.SizeBytes)
	}
	out.SavedBytes = biggest - rep.Size
	return out
}

// rootBase follows FROM through stages to the image the final stage rests on.
func rootBase(p *plan, i int) string {
	for p.parent[i] >= 0 {
		i = p.parent[i]
	}
	return p.stages[i].Base
}

func digestOf(stages []domain.StageSize, name string) string {
	for _, s := range stages {
		if s.Name == name {
			return s.Digest
		}
	}
	return ""
}
