package mirror

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// debianSuite is the Debian release the debian image holds.
const debianSuite = "bookworm"

// debianRecipe stands in for docker.io's debian:bookworm-slim with a minbase
// debootstrap from the Debian mirror this machine's apt uses.
var debianRecipe = Recipe{
	Name:       "debian",
	Repository: "library/debian",
	Key: func(ctx context.Context, env *Env) (string, error) {
		v, err := hostPackage(ctx, "debootstrap")
		if err != nil {
			return "", err
		}
		uri, err := debianMirror(debianSuite)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("debootstrap=%s suite=%s mirror=%s release=%q recipe=1",
			v, debianSuite, uri, releaseStamp(uri, debianSuite)), nil
	},
	Build: buildDebian,
}

// releaseStamp reads the Version and Date of the suite's Release file from
// apt's lists, so that the cache key moves with a Debian point release once
// `apt-get update` has seen it. Without lists it says "unknown".
func releaseStamp(uri, suite string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(uri, "http://"), "https://")
	file := strings.ReplaceAll(host, "/", "_") + "_dists_" + suite + "_InRelease"
	f, err := os.Open(filepath.Join("/var/lib/apt/lists", file))
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	var version, date string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Version: "); ok && version == "" {
			version = v
		}
		if d, ok := strings.CutPrefix(line, "Date: "); ok && date == "" {
			date = d
		}
	}
	return version + " " + date
}

func buildDebian(ctx context.Context, env *Env, _ v1.Image) (v1.Image, []string, error) {
	if _, err := hostPackage(ctx, "debootstrap"); err != nil {
		return nil, nil, err
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		debootstrap = "/usr/sbin/debootstrap"
	}
	uri, err := debianMirror(debianSuite)
	if err != nil {
		return nil, nil, err
	}
	root := filepath.Join(env.WorkDir, "rootfs")
	env.Log.Info("running debootstrap", "suite", debianSuite, "mirror", uri)
	err = run(ctx, env, debootstrap, "--variant=minbase", "--arch=amd64", debianSuite, root, uri)
	if err != nil {
		return nil, nil, err
	}
	if err := slimDebian(root); err != nil {
		return nil, nil, fmt.Errorf("slim the root file system: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "etc", "debian_version"))
	if err != nil {
		return nil, nil, err
	}
	point := strings.TrimSpace(string(raw))

	path := filepath.Join(env.WorkDir, "layer.tar.gz")
	if err := writeTreeLayer(path, root); err != nil {
		return nil, nil, err
	}
	img, err := appendLayer(nil, path, imageSpec{
		createdBy: "layerlab seed: debootstrap --variant=minbase " + debianSuite + ", slimmed",
		env:       []string{"PATH=" + defaultPath},
		cmd:       []string{"bash"},
	})
	if err != nil {
		return nil, nil, err
	}
	tags := []string{debianSuite + "-slim"}
	if major, _, ok := strings.Cut(point, "."); ok {
		tags = append(tags, major+"-slim", point+"-slim")
	}
	return img, tags, nil
}

// writeTreeLayer writes the root file system at root as a layer, leaving out
// what a container runtime mounts over /dev, /proc and /sys.
func writeTreeLayer(path, root string) error {
	w, err := newLayerWriter(path)
	if err != nil {
		return err
	}
	err = w.addTree(root, func(rel string) bool {
		for _, p := range []string{"dev/", "proc/", "sys/"} {
			if strings.HasPrefix(rel, p) {
				return true
			}
		}
		return false
	}, nil)
	if err != nil {
		w.close()
		return err
	}
	return w.close()
}

// slimDpkgConfig keeps these paths out of later `apt-get install`s in the
// image too, as Docker's slim images do; copyright files stay.
const slimDpkgConfig = `# Written by layerlab's image seeding: keep the image slim.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
`

// slimDebian removes from a fresh debootstrap what a base image need not
// carry (package lists, caches, logs, documentation, translations) and what
// would make its digest depend on the day or the machine it was built on.
func slimDebian(root string) error {
	in := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	for _, dir := range []string{"usr/share/groff", "usr/share/info", "usr/share/linda",
		"usr/share/lintian", "usr/share/man"} {
		if err := emptyDir(in(dir)); err != nil {
			return err
		}
	}
	if err := emptyDir(in("usr/share/locale"), "locale.alias"); err != nil {
		return err
	}
	if err := removeDocs(in("usr/share/doc")); err != nil {
		return err
	}
	if err := cleanAptState(root); err != nil {
		return err
	}
	for _, p := range []string{"etc/shadow", "etc/shadow-"} {
		if err := fixShadowDates(in(p)); err != nil {
			return err
		}
	}
	cfg := in("etc/dpkg/dpkg.cfg.d/layerlab-slim")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		return err
	}
	return os.WriteFile(cfg, []byte(slimDpkgConfig), 0o644)
}

// cleanAptState removes what apt and dpkg leave behind that an image need not
// carry (package lists, downloaded packages, logs, backups) and the files
// that would tie its digest to the build machine or the day.
func cleanAptState(root string) error {
	in := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	// Files only: apt and dpkg expect these directories to exist.
	for _, dir := range []string{"var/lib/apt/lists", "var/cache/apt", "var/log",
		"var/cache/debconf", "var/lib/dpkg"} {
		err := filepath.WalkDir(in(dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			name := d.Name()
			switch dir {
			case "var/cache/debconf", "var/lib/dpkg":
				if !strings.HasSuffix(name, "-old") {
					return nil
				}
			case "var/lib/apt/lists", "var/cache/apt":
				if name == "lock" {
					return nil
				}
			}
			return os.Remove(p)
		})
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	for _, p := range []string{"etc/hostname", "etc/resolv.conf", "etc/machine-id",
		"var/cache/ldconfig/aux-cache"} {
		if err := os.Remove(in(p)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// emptyDir removes everything in dir but the names in keep.
func emptyDir(dir string, keep ...string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeDocs empties /usr/share/doc but for each package's copyright file.
func removeDocs(doc string) error {
	entries, err := os.ReadDir(doc)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, pkg := range entries {
		dir := filepath.Join(doc, pkg.Name())
		if !pkg.IsDir() {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			continue
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.Name() != "copyright" {
				if err := os.RemoveAll(filepath.Join(dir, f.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fixShadowDates sets the "last password change" field, which useradd fills
// with the day of the build, to the day of epoch.
func fixShadowDates(path string) error {
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	day := strconv.FormatInt(epoch.Unix()/86400, 10)
	lines := strings.Split(string(raw), "\n")
	for i, line := range lines {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[2] != "" {
			f[2] = day
			lines[i] = strings.Join(f, ":")
		}
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")), fi.Mode().Perm())
}
