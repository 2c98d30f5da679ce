package mirror

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// busyboxRecipe stands in for docker.io's busybox with the static binary of
// Debian's busybox-static package.
var busyboxRecipe = Recipe{
	Name:       "busybox",
	Repository: "library/busybox",
	Key: func(ctx context.Context, env *Env) (string, error) {
		v, err := hostPackage(ctx, "busybox-static")
		if err != nil {
			return "", err
		}
		return "busybox-static=" + v + " recipe=1", nil
	},
	Build: buildBusybox,
}

// busyboxBinary is where busybox-static installs its binary.
const busyboxBinary = "/bin/busybox"

func buildBusybox(ctx context.Context, env *Env, _ v1.Image) (v1.Image, []string, error) {
	version, err := hostPackage(ctx, "busybox-static")
	if err != nil {
		return nil, nil, err
	}
	bin, err := os.Open(busyboxBinary)
	if err != nil {
		return nil, nil, fmt.Errorf("busybox-static is installed but %s is missing: %w",
			busyboxBinary, err)
	}
	defer bin.Close()
	fi, err := bin.Stat()
	if err != nil {
		return nil, nil, err
	}

	// --list-full names each applet with the path that `busybox --install -s`
	// links it at.
	out, err := exec.CommandContext(ctx, busyboxBinary, "--list-full").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("busybox --list-full: %w", err)
	}
	applets := strings.Fields(string(out))
	slices.Sort(applets)

	path := filepath.Join(env.WorkDir, "layer.tar.gz")
	w, err := newLayerWriter(path)
	if err != nil {
		return nil, nil, err
	}
	if err := writeBusyboxTree(w, bin, fi.Size(), applets); err != nil {
		w.close()
		return nil, nil, err
	}
	if err := w.close(); err != nil {
		return nil, nil, err
	}

	upstream := upstreamVersion(version)
	img, err := appendLayer(nil, path, imageSpec{
		createdBy: "layerlab seed: busybox from Debian busybox-static " + version,
		env:       []string{"PATH=" + defaultPath},
		cmd:       []string{"sh"},
	})
	if err != nil {
		return nil, nil, err
	}
	tags := []string{upstream, "latest"}
	if major, minor, ok := majorMinor(upstream); ok {
		tags = []string{upstream, major + "." + minor, "latest"}
	}
	return img, tags, nil
}

// writeBusyboxTree writes a small root file system in lexical order: the
// directories, /bin/busybox, an absolute symlink for every applet, and the
// account files that programs expect.
func writeBusyboxTree(w *layerWriter, bin *os.File, size int64, applets []string) error {
	type entry struct {
		name, link, data string
		mode             int64
		dir, binary      bool
	}
	entries := []entry{
		{name: "bin/busybox", mode: 0o755, binary: true},
		{name: "etc/group", mode: 0o644, data: "root:x:0:\nnogroup:x:65534:\n"},
		{name: "etc/passwd", mode: 0o644, data: "root:x:0:0:root:/root:/bin/sh\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
	}
	for _, d := range []string{"bin", "dev", "etc", "home", "proc", "sbin", "sys", "usr",
		"usr/bin", "usr/sbin", "var"} {
		entries = append(entries, entry{name: d, mode: 0o755, dir: true})
	}
	entries = append(entries,
		entry{name: "root", mode: 0o700, dir: true},
		entry{name: "tmp", mode: 0o1777, dir: true})
	for _, a := range applets {
		if a != "bin/busybox" {
			entries = append(entries, entry{name: a, link: busyboxBinary})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	for _, e := range entries {
		var err error
		switch {
		case e.dir:
			err = w.dir(e.name, e.mode)
		case e.link != "":
			err = w.symlink(e.name, e.link)
		case e.binary:
			hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode, Size: size}
			err = w.add(hdr, bin)
		default:
			err = w.file(e.name, e.mode, e.data)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// majorMinor splits "1.35.0" into "1" and "35".
func majorMinor(v string) (string, string, bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return "", "", false
	}
	return parts[0], parts[1], true
}
