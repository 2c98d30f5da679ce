package mirror

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// mustOpen opens a mirror in a new temporary directory.
func mustOpen(tb testing.TB) *Mirror {
	tb.Helper()
	m, err := Open(filepath.Join(tb.TempDir(), "mirror"), testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// mustServe serves m on a free loopback port until the test ends.
func mustServe(tb testing.TB, m *Mirror) (string, context.CancelFunc) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	addr, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return addr.String(), cancel
}

// pull fetches an image from a mirror served at addr, as BuildKit would.
func pull(tb testing.TB, addr, ref string) v1.Image {
	tb.Helper()
	r, err := ParseRef(ref)
	if err != nil {
		tb.Fatal(err)
	}
	tag, err := name.NewTag(addr+"/"+r.Repository+":"+r.Tag, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	img, err := remote.Image(tag)
	if err != nil {
		tb.Fatalf("pull %s from %s: %v", ref, addr, err)
	}
	return img
}

func seedBusybox(tb testing.TB, m *Mirror, cacheDir string) []Image {
	tb.Helper()
	imgs, err := m.Seed(context.Background(), []string{"busybox"}, SeedOptions{CacheDir: cacheDir})
	if err != nil {
		tb.Fatalf("seed busybox (Debian's busybox-static must be installed): %v", err)
	}
	return imgs
}

func TestSeedBusyboxServeAndPull(t *testing.T) {
	m := mustOpen(t)
	if !m.Empty() {
		t.Fatal("new mirror is not empty")
	}
	imgs := seedBusybox(t, m, t.TempDir())
	if m.Empty() {
		t.Fatal("seeded mirror is empty")
	}
	var tags []string
	for _, img := range imgs {
		tags = append(tags, img.Ref.String())
	}
	version, err := hostPackage(context.Background(), "busybox-static")
	if err != nil {
		t.Fatal(err)
	}
	want := "busybox:" + upstreamVersion(version)
	all := strings.Join(tags, " ")
	if !strings.Contains(all, want) || !strings.Contains(all, "busybox:latest") {
		t.Fatalf("seeded tags %v, want %s and busybox:latest", tags, want)
	}

	addr, _ := mustServe(t, m)
	img := pull(t, addr, "busybox")
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if digest != imgs[0].Digest {
		t.Errorf("pulled digest %s, seeded %s", digest, imgs[0].Digest)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if !cf.Created.Time.Equal(epoch) {
		t.Errorf("created %s, want %s", cf.Created.Time, epoch)
	}
	files := layerFiles(t, img)
	for _, f := range []string{"bin/busybox", "bin/sh", "etc/passwd", "etc/group", "tmp/",
		"usr/bin/env"} {
		if _, ok := files[f]; !ok {
			t.Errorf("image lacks %s", f)
		}
	}
	if got := files["bin/sh"]; got != "-> /bin/busybox" {
		t.Errorf("bin/sh is %q, want a symlink to /bin/busybox", got)
	}
}

func TestSeedIsReproducible(t *testing.T) {
	// Two data directories and two caches: nothing is shared but the recipe.
	var layers [2][]string
	var digests [2]v1.Hash
	for i := range layers {
		m := mustOpen(t)
		digests[i] = seedBusybox(t, m, t.TempDir())[0].Digest
		addr, _ := mustServe(t, m)
		img := pull(t, addr, "busybox:latest")
		mf, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range mf.Layers {
			layers[i] = append(layers[i], l.Digest.String())
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("two seeds gave manifests %s and %s", digests[0], digests[1])
	}
	if strings.Join(layers[0], " ") != strings.Join(layers[1], " ") {
		t.Errorf("two seeds gave layers %v and %v", layers[0], layers[1])
	}
}

func TestMissingHostPackageNamesIt(t *testing.T) {
	_, err := hostPackage(context.Background(), "layerlab-no-such-package")
	want := "Debian's layerlab-no-such-package package is not installed on this machine " +
		"(apt-get install layerlab-no-such-package)"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v, want %q", err, want)
	}
}

func TestSeedTakesTheCache(t *testing.T) {
	cache := t.TempDir()
	seedBusybox(t, mustOpen(t), cache)
	m := mustOpen(t)
	imgs := seedBusybox(t, m, cache)
	// The second mirror's blobs must be real copies, not links into the cache.
	if err := os.RemoveAll(cache); err != nil {
		t.Fatal(err)
	}
	addr, _ := mustServe(t, m)
	img := pull(t, addr, imgs[0].Ref.String())
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}

func TestServeSurvivesRestartAndSeesNewImages(t *testing.T) {
	m := mustOpen(t)
	seedBusybox(t, m, t.TempDir())
	addr, stop := mustServe(t, m)
	first, _ := pull(t, addr, "busybox:latest").Digest()
	stop()

	// A new process: Open the same directory and serve again.
	again, err := Open(m.Dir(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ = mustServe(t, again)
	second, _ := pull(t, addr, "busybox:latest").Digest()
	if first != second {
		t.Fatalf("after restart the mirror serves %s, before %s", second, first)
	}

	// Another process imports while this one serves; the next pull sees it.
	other, err := Open(m.Dir(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	archive := writeRootfsTar(t, map[string]string{"hello.txt": "hi\n"}, false)
	if _, err := other.Import(context.Background(), archive, "someone/hello:1"); err != nil {
		t.Fatal(err)
	}
	pull(t, addr, "someone/hello:1")
}

func TestServeRefusesPushes(t *testing.T) {
	m := mustOpen(t)
	seedBusybox(t, m, t.TempDir())
	addr, _ := mustServe(t, m)
	img := pull(t, addr, "busybox")
	tag, _ := name.NewTag(addr+"/library/evil:1", name.Insecure)
	err := remote.Write(tag, img)
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("push gave %v, want a read-only refusal", err)
	}
	if _, err := m.Lookup("evil:1"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lookup of pushed tag: %v, want not found", err)
	}
}

func TestServeListensOnLoopbackOnly(t *testing.T) {
	m := mustOpen(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "localhost:0"} {
		if _, err := m.Serve(context.Background(), addr); err == nil ||
			!strings.Contains(err.Error(), "loopback") {
			t.Errorf("Serve(%q) = %v, want a loopback refusal", addr, err)
		}
	}
}

func TestRemoveCollectsBlobs(t *testing.T) {
	m := mustOpen(t)
	seedBusybox(t, m, t.TempDir())
	imgs, err := m.Images()
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		if err := m.Remove(img.Ref.String()); err != nil {
			t.Fatal(err)
		}
		blobs, _ := os.ReadDir(filepath.Join(m.Dir(), "blobs", "sha256"))
		last := i == len(imgs)-1
		if last != (len(blobs) == 0) {
			t.Fatalf("after removing %d of %d tags, %d blobs remain", i+1, len(imgs), len(blobs))
		}
	}
	err = m.Remove("busybox:latest")
	if !errors.Is(err, os.ErrNotExist) ||
		!strings.Contains(err.Error(), "busybox:latest is not in the mirror") {
		t.Fatalf("second remove: %v", err)
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in, want, full, err string
	}{
		{in: "busybox", want: "busybox:latest", full: "docker.io/library/busybox:latest"},
		{in: "debian:bookworm-slim", want: "debian:bookworm-slim",
			full: "docker.io/library/debian:bookworm-slim"},
		{in: "docker.io/library/node:22", want: "node:22", full: "docker.io/library/node:22"},
		{in: "index.docker.io/someone/app:1", want: "someone/app:1", full: "docker.io/someone/app:1"},
		{in: "ghcr.io/someone/app:1", err: "docker.io names only"},
		{in: "busybox@sha256:" + strings.Repeat("a", 64), err: "not digests"},
		{in: "Bad Name", err: "image name"},
		{in: "", err: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRef(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.want || r.Full() != tt.full {
				t.Fatalf("got %s (%s), want %s (%s)", r, r.Full(), tt.want, tt.full)
			}
		})
	}
}

func TestDebianMirrorFromAptSources(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name: "one-line",
			files: map[string]string{"sources.list": "# comment\n" +
				"deb [arch=amd64 signed-by=/k.gpg] http://mirror.test/debian/ bookworm main contrib\n" +
				"deb http://mirror.test/debian-security bookworm-security main\n"},
			want: "http://mirror.test/debian",
		},
		{
			name: "deb822 after a disabled stanza",
			files: map[string]string{"sources.list.d/debian.sources": "Types: deb\n" +
				"URIs: http://off.test/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n" +
				"Types: deb deb-src\nURIs: http://mirror.test/debian\n" +
				"Suites: bookworm bookworm-updates\nComponents: main\n"},
			want: "http://mirror.test/debian",
		},
		{
			name: "ignores files that are not sources",
			files: map[string]string{
				"sources.list.d/x.list.disabled": "deb http://off.test/debian bookworm main\n",
				"sources.list.d/y.list":          "deb http://mirror.test/debian bookworm main\n",
			},
			want: "http://mirror.test/debian",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := debianMirrorIn(dir, "bookworm")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := debianMirrorIn(t.TempDir(), "bookworm"); err == nil ||
		!strings.Contains(err.Error(), "no apt source for Debian bookworm") {
		t.Fatalf("empty apt dir: %v", err)
	}
}

// TestSeedDebian runs debootstrap against the Debian mirror this machine's apt
// uses (about half a minute), unless the machine's seed cache has the image.
func TestSeedDebian(t *testing.T) {
	m := mustOpen(t)
	imgs, err := m.Seed(context.Background(), []string{"debian"}, SeedOptions{})
	if err != nil {
		t.Fatalf("seed debian (Debian's debootstrap must be installed): %v", err)
	}
	var tags []string
	for _, img := range imgs {
		tags = append(tags, img.Ref.String())
	}
	if len(tags) != 3 || tags[0] != "debian:bookworm-slim" || tags[1] != "debian:12-slim" ||
		!strings.HasPrefix(tags[2], "debian:12.") {
		t.Fatalf("tags %v, want debian:bookworm-slim, debian:12-slim, debian:12.N-slim", tags)
	}

	addr, _ := mustServe(t, m)
	img := pull(t, addr, "debian:bookworm-slim")
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	files := layerFiles(t, img)
	for _, want := range []string{"usr/bin/bash", "usr/bin/apt-get", "etc/debian_version",
		"etc/dpkg/dpkg.cfg.d/layerlab-slim", "usr/share/doc/bash/copyright", "tmp/"} {
		if _, ok := files[want]; !ok {
			t.Errorf("image lacks %s", want)
		}
	}
	for name := range files {
		for _, gone := range []string{"var/lib/apt/lists/deb", "usr/share/man/", "var/log/dpkg",
			"usr/share/doc/bash/README", "etc/hostname", "dev/null"} {
			if strings.HasPrefix(name, gone) && name != gone {
				t.Errorf("image still has %s", name)
			}
		}
	}
	if got := strings.TrimSpace(files["etc/debian_version"]); "debian:"+got+"-slim" != tags[2] {
		t.Errorf("debian_version %q does not match tag %s", got, tags[2])
	}
}

func TestSeedGoesOnPastAFailure(t *testing.T) {
	saved := Recipes
	t.Cleanup(func() { Recipes = saved })
	broken := Recipe{
		Name:       "broken",
		Repository: "library/broken",
		Key: func(context.Context, *Env) (string, error) {
			return "", errors.New("no such toolchain")
		},
	}
	onBroken := Recipe{Name: "onbroken", Repository: "library/onbroken", Base: "broken"}
	Recipes = []Recipe{broken, onBroken, busyboxRecipe}

	m := mustOpen(t)
	imgs, err := m.Seed(context.Background(), nil, SeedOptions{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "seed broken: no such toolchain") ||
		!strings.Contains(err.Error(), "seed onbroken: its base broken is missing") {
		t.Fatalf("err %v, want both failures named", err)
	}
	if len(imgs) == 0 || imgs[0].Ref.Name() != "busybox" {
		t.Fatalf("seeded %v, want busybox despite the failures", imgs)
	}
	if _, err := m.Lookup("busybox:latest"); err != nil {
		t.Fatal(err)
	}
}
