package sizes_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/layerlab/layerlab/sizes"
	"github.com/layerlab/layerlab/sizes/internal/fixture"
)

// collectFile feeds the blobs of the OCI layout tar at p to a Collector,
// in the tar's order and in chunks, as an exporter writing into a content
// store would, skipping blobs the collector has, and returns the report.
func collectFile(t *testing.T, cache *sizes.Cache, p string) (*sizes.Report, error) {
	t.Helper()
	k := cache.Collector(context.Background())
	var index []byte
	for _, m := range readMembers(t, p) {
		if m.name == "index.json" {
			index = m.data
			continue
		}
		name, ok := strings.CutPrefix(m.name, "blobs/sha256/")
		if !ok || k.Has("sha256:"+name) {
			continue
		}
		w := k.Blob("sha256:"+name, int64(len(m.data)))
		if _, err := io.CopyBuffer(w, bytes.NewReader(m.data), make([]byte, 32<<10)); err != nil {
			w.Abort(err)
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	if index == nil {
		return nil, errors.New("no index.json")
	}
	return k.Report("", index)
}

// A collector reports what Analyze reports for the same archive, whether the
// layers are read or come from the cache.
func TestCollectorAgreesWithAnalyze(t *testing.T) {
	formats := map[string]fixture.Format{
		"gzip layers": fixture.DockerGzip,
		"zstd layers": fixture.DockerZstd,
		"plain tars":  fixture.OCIPlain,
	}
	for name, format := range formats {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "image.tar")
			if err := fixture.Write(p, mixedImage(), format); err != nil {
				t.Fatal(err)
			}
			want := openAndAnalyze(t, p)
			cache := sizes.NewCache(1000)
			for _, pass := range []string{"read", "cached"} {
				got, err := collectFile(t, cache, p)
				if err != nil {
					t.Fatalf("%s: %v", pass, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: collector reports\n%+v\nAnalyze reports\n%+v", pass, got, want)
				}
			}
			if cache.Len() != 3 {
				t.Errorf("cache holds %d layers, want 3", cache.Len())
			}
		})
	}
}

// The order of an archive's members does not matter, and without a cache
// nothing is kept.
func TestCollectorTakesBlobsInAnyOrder(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "image.tar")
	if err := fixture.Write(p, mixedImage(), fixture.DockerGzip); err != nil {
		t.Fatal(err)
	}
	want := openAndAnalyze(t, p)
	members := readMembers(t, p)
	slices.Reverse(members) // index.json first, then the blobs
	reversed := filepath.Join(dir, "reversed.tar")
	writeMembers(t, reversed, members)
	got, err := collectFile(t, nil, reversed)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("collector reports\n%+v\nAnalyze reports\n%+v", got, want)
	}
}

// Broken images end in an error naming what is wrong.
func TestCollectorRefusesBrokenImages(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "image.tar")
	if err := fixture.Write(p, mixedImage(), fixture.DockerGzip); err != nil {
		t.Fatal(err)
	}
	members := readMembers(t, p)
	without := func(name string) []member {
		var out []member
		for _, m := range members {
			if m.name != name {
				out = append(out, m)
			}
		}
		return out
	}
	var biggest member
	for _, m := range members {
		if len(m.data) > len(biggest.data) {
			biggest = m
		}
	}
	cut := slices.Clone(members)
	for i, m := range cut {
		if m.name == biggest.name {
			cut[i].data = m.data[:len(m.data)/2]
		}
	}

	cases := map[string]struct {
		members []member
		want    string
	}{
		"no index":            {without("index.json"), "no index.json"},
		"a layer missing":     {without(biggest.name), "not in the image"},
		"a layer cut in half": {cut, "layer"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".tar")
			writeMembers(t, out, tc.members)
			_, err := collectFile(t, sizes.NewCache(1000), out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// The cache drops the least recently used layers to stay within its bound.
func TestCacheStaysWithinItsBound(t *testing.T) {
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := fixture.Write(p, mixedImage(), fixture.DockerGzip); err != nil {
		t.Fatal(err)
	}
	// The layers hold 4, 2 and 1 entries: only the last two fit in 3.
	cache := sizes.NewCache(3)
	if _, err := collectFile(t, cache, p); err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 2 {
		t.Errorf("cache holds %d layers, want 2", cache.Len())
	}
	// /app/server.js, /app/model.bin and the whiteout of /var/log/boot.log.
	if entries, bytes := cache.Size(); entries != 3 || bytes != 3*32+14+14+17 {
		t.Errorf("cache holds %d entries in %d bytes, want 3 in %d", entries, bytes, 3*32+14+14+17)
	}
}

type member struct {
	name string
	data []byte
}

func readMembers(t *testing.T, p string) []member {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []member
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, member{hdr.Name, data})
	}
}

func writeMembers(t *testing.T, p string, members []member) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
