package main

import (
	"archive/tar"
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runImagesTest(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := imagesCommand(context.Background(), args, &out, slog.New(slog.DiscardHandler))
	return out.String(), err
}

func TestImagesCommands(t *testing.T) {
	data := t.TempDir()
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi\n"))
	tw.Close()
	if err := os.WriteFile(rootfs, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// Flags may follow the file, as people type them.
	out, err := runImagesTest(t, "import", rootfs, "--name", "hello:1", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "hello  1") {
		t.Fatalf("import printed:\n%s", out)
	}

	out, err = runImagesTest(t, "ls", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "hello") {
		t.Fatalf("ls printed:\n%s", out)
	}
	if !strings.Contains(lines[1], "sha256:") {
		t.Fatalf("ls shows no digest:\n%s", out)
	}

	if _, err := runImagesTest(t, "rm", "hello:1", "--data", data); err != nil {
		t.Fatal(err)
	}
	out, _ = runImagesTest(t, "ls", "--data", data)
	if strings.Contains(out, "hello") {
		t.Fatalf("ls after rm printed:\n%s", out)
	}

	_, err = runImagesTest(t, "rm", "hello:1", "--data", data)
	if err == nil || !strings.Contains(err.Error(), "hello:1 is not in the mirror") {
		t.Fatalf("rm of a missing tag: %v", err)
	}
	_, err = runImagesTest(t, "seed", "--data", data, "nosuchimage")
	if err == nil || !strings.Contains(err.Error(), `no image called "nosuchimage"`) {
		t.Fatalf("seed of an unknown name: %v", err)
	}
	_, err = runImagesTest(t, "frobnicate")
	if err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestImagesDataFromEnvironment(t *testing.T) {
	data := t.TempDir()
	t.Setenv("LAYERLAB_DATA", data)
	if _, err := runImagesTest(t, "ls"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "mirror", "index.json")); err != nil {
		t.Fatalf("ls did not use $LAYERLAB_DATA: %v", err)
	}
}
