package sizes_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/internal/labtest"
	"github.com/layerlab/layerlab/sizes/internal/divecheck"
)

// The sizes layerlab reports for a real build agree with dive's for the
// same image, exported by buildctl from the same worker.
func TestBuildSizesAgreeWithDive(t *testing.T) {
	ctx := context.Background()
	dive, err := divecheck.Binary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	buildctl, err := labtest.Buildctl()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	a, err := labtest.Start(ctx, data, labtest.Options{Images: []string{"busybox"}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)

	dockerfile := "FROM busybox\nRUN head -c 20000000 /dev/urandom > /big && echo a > /a\n" +
		"ENV MODE=test\nRUN rm /big && echo bb > /a\nCOPY note.txt /note.txt\n"
	files := map[string]string{"Dockerfile": dockerfile, "note.txt": "a note\n"}
	f := (&labtest.Client{Base: a.URL()}).Build(t, labtest.Request{Files: files})
	if f.State.Status != domain.StatusSucceeded || f.State.Image == nil || len(f.State.Sizes) != 1 {
		t.Fatalf("build %s: %s, image %v, %d stage sizes", f.ID, f.State.Status, f.State.Image, len(f.State.Sizes))
	}

	ctxDir := filepath.Join(data, "export-context")
	for name, content := range files {
		if err := os.MkdirAll(ctxDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	archive := filepath.Join(data, "image.tar")
	out, err := exec.CommandContext(ctx, buildctl, "--addr", "unix://"+filepath.Join(data, "buildkit", "buildkitd.sock"),
		"build", "--frontend", "dockerfile.v0", "--local", "context="+ctxDir, "--local", "dockerfile="+ctxDir,
		"--output", "type=docker,name=layerlab/dive-check,dest="+archive).CombinedOutput()
	if err != nil {
		t.Fatalf("buildctl export: %v\n%s", err, out)
	}
	run, err := divecheck.Analyze(ctx, dive, archive)
	if err != nil {
		t.Fatal(err)
	}

	img := f.State.Image
	near(t, "image size", img.SizeBytes, run.Export.Image.SizeBytes)
	// dive's inefficient bytes also count the surviving copy of /a: 3 bytes.
	near(t, "wasted bytes", img.WastedBytes, run.Export.Image.InefficientBytes)

	// The stage's rows: the base's layers in one, then one per instruction
	// with a layer, in dive's order.
	rows := f.State.Sizes[0].Rows
	layers := run.Export.Layers
	var base int64
	for _, l := range layers[:rows[0].Layers] {
		base += l.SizeBytes
	}
	near(t, "base layers", rows[0].SizeBytes, base)
	i := rows[0].Layers
	for _, r := range rows[1:] {
		if r.Layers == 0 {
			if r.SizeBytes != 0 {
				t.Errorf("%s made no layer but weighs %d", r.Instruction, r.SizeBytes)
			}
			continue
		}
		if i >= len(layers) {
			t.Fatalf("more rows with layers than dive's %d layers", len(layers))
		}
		near(t, r.Instruction, r.SizeBytes, layers[i].SizeBytes)
		i++
	}
	if i != len(layers) {
		t.Errorf("rows cover %d layers, dive lists %d", i, len(layers))
	}
}

func near(t *testing.T, what string, got, want int64) {
	t.Helper()
	diff := got - want
	if diff < 0 {
		diff = -diff
	}
	if float64(diff) > 0.01*float64(want) {
		t.Errorf("%s: layerlab %d bytes, dive %d (more than 1%% apart)", what, got, want)
	}
}
