package mirror

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// pythonPackages are the Debian packages of the python image: the
// interpreter, `python` as a name for it, pip and venv.
var pythonPackages = []string{"python3", "python-is-python3", "python3-pip", "python3-venv"}

// pythonRecipe stands in for docker.io's python:3.11-slim-bookworm with
// Debian's own Python 3.11 (under /usr, not /usr/local as there).
var pythonRecipe = Recipe{
	Name:       "python",
	Repository: "library/python",
	Base:       "debian",
	Key: func(ctx context.Context, env *Env) (string, error) {
		uri, err := debianMirror(debianSuite)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("apt=%s mirror=%s release=%q recipe=1",
			strings.Join(pythonPackages, ","), uri, releaseStamp(uri, debianSuite)), nil
	},
	Build: buildPython,
}

func buildPython(ctx context.Context, env *Env, base v1.Image) (v1.Image, []string, error) {
	var version string
	spec := imageSpec{
		createdBy: "layerlab seed: apt-get install " + strings.Join(pythonPackages, " "),
		env:       []string{"PATH=" + defaultPath, "LANG=C.UTF-8"},
		cmd:       []string{"python3"},
	}
	img, err := derive(ctx, env, base, spec, func(ctx context.Context, root string) error {
		if err := aptInstall(ctx, env, root, pythonPackages...); err != nil {
			return err
		}
		// Debian marks its Python as managed by apt, which makes `pip install`
		// fail; in a container image, as in Docker's, pip is how packages go in.
		marks, _ := filepath.Glob(filepath.Join(root, "usr/lib/python3*/EXTERNALLY-MANAGED"))
		for _, m := range marks {
			if err := os.Remove(m); err != nil {
				return err
			}
		}
		// Compiled bytecode is not byte-for-byte reproducible; Python
		// compiles again on first import.
		if err := removePycache(filepath.Join(root, "usr/lib")); err != nil {
			return err
		}
		v, err := chrootPackageVersion(ctx, root, "python3")
		version = upstreamVersion(v)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	major, minor, ok := majorMinor(version)
	if !ok {
		return nil, nil, fmt.Errorf("python3 version %q has no minor version", version)
	}
	mm := major + "." + minor
	return img, []string{version + "-slim-bookworm", mm + "-slim-bookworm", mm + "-slim"}, nil
}

func removePycache(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			dirs = append(dirs, p)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

// chrootPackageVersion reads the version of a package installed in root.
func chrootPackageVersion(ctx context.Context, root, pkg string) (string, error) {
	out, err := exec.CommandContext(ctx, "dpkg-query", "--root="+root, "-W",
		"-f=${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return "", fmt.Errorf("read version of %s in the image: %v", pkg, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// aptInstall installs Debian packages into the root file system at root with
// apt-get in a chroot, using the sources the image itself carries, then
// removes apt's lists, caches and logs again.
func aptInstall(ctx context.Context, env *Env, root string, pkgs ...string) error {
	undo, err := prepareChroot(root)
	defer undo()
	if err != nil {
		return fmt.Errorf("prepare chroot: %w", err)
	}
	steps := [][]string{
		{"apt-get", "update", "-q"},
		append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends"}, pkgs...),
		{"apt-get", "clean"},
	}
	for _, s := range steps {
		if err := run(ctx, env, "chroot", append([]string{root}, s...)...); err != nil {
			return err
		}
	}
	undo()
	return cleanAptState(root)
}

// prepareChroot gives root what apt's maintainer scripts need and a base
// image lacks: a few device nodes, name resolution, and a policy that keeps
// services from starting. The returned function removes them again; it may
// be called more than once.
func prepareChroot(root string) (func(), error) {
	var made []string
	undo := func() {
		for i := len(made) - 1; i >= 0; i-- {
			os.Remove(made[i])
		}
		made = nil
	}
	devs := []struct {
		name         string
		major, minor int
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}}
	for _, d := range devs {
		p := filepath.Join(root, "dev", d.name)
		dev := (d.major << 8) | d.minor
		if err := mknod(p, 0o666, dev); err != nil {
			return undo, err
		}
		made = append(made, p)
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return undo, err
	}
	p := filepath.Join(root, "etc", "resolv.conf")
	if err := os.WriteFile(p, resolv, 0o644); err != nil {
		return undo, err
	}
	made = append(made, p)
	p = filepath.Join(root, "usr", "sbin", "policy-rc.d")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		return undo, err
	}
	made = append(made, p)
	return undo, nil
}
