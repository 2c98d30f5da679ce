package examples_test

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/internal/labtest"
)

// TestProjectDockerfile builds layerlab's own Dockerfile through its API,
// on the mirror's golang and busybox images. RUN steps cannot reach the Go
// module proxy here, so the context is the one scripts/image-context.sh
// writes, with the modules vendored.
func TestProjectDockerfile(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dir := filepath.Join(t.TempDir(), "context")
	cmd := exec.Command(filepath.Join(root, "scripts", "image-context.sh"), dir)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("image-context.sh: %v\n%s", err, out)
	}

	c := labtest.NewClient(t)
	id, err := c.PostRaw("application/x-tar", "", tarDir(t, dir))
	if err != nil {
		t.Fatalf("post the project's context: %v", err)
	}
	events, err := c.Events(id, 0)
	if err != nil {
		t.Fatalf("follow build %s: %v", id, err)
	}
	state, err := c.State(id)
	if err != nil {
		t.Fatal(err)
	}
	f := labtest.Finished{ID: id, Events: events, State: state}
	if state.Status != domain.StatusSucceeded {
		t.Fatalf("status %s: %+v; steps:%s\nlog tail:\n%s", state.Status, state.Error,
			f.StepList(), tail(f.Log(), 3000))
	}
	if s := f.Step(t, "build", "RUN test -f vendor/modules.txt"); s.State != "done" {
		t.Errorf("the module step is %s, want done", s.State)
	}

	img := state.Image
	if img == nil {
		t.Fatalf("no image report; warnings %+v", state.Warnings)
	}
	t.Logf("layerlab image: %s uncompressed, %s compressed, %d layers",
		mb(img.SizeBytes), mb(img.CompressedBytes), img.Layers)
	if img.Stage != "runtime" || img.User != "10001:10001" || img.RunsAsRoot {
		t.Errorf("final stage %q with user %q; want runtime, 10001:10001", img.Stage, img.User)
	}
	if !slices.ContainsFunc(img.Healthcheck, func(s string) bool {
		return strings.Contains(s, "wget") && strings.Contains(s, "/healthz")
	}) {
		t.Errorf("healthcheck %q, want busybox wget on /healthz", img.Healthcheck)
	}
	if img.SizeBytes > 60e6 {
		t.Errorf("the image is %d bytes; the static server on busybox should stay under 60 MB",
			img.SizeBytes)
	}
}

// tarDir packs the regular files under dir into a tar, as the lab's upload
// form takes a context.
func tarDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data))}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatalf("pack %s: %v", dir, err)
	}
	return buf.Bytes()
}
