package mirror

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// goRoot is where this machine keeps the Go toolchain the golang image copies.
const goRoot = "/usr/local/go"

// golangRecipe stands in for docker.io's golang:1.26-bookworm with this
// machine's Go toolchain on the debian image. The official image stands on
// buildpack-deps and also carries gcc, git and make; this one does not, so
// cgo is off (Go turns it off when it finds no C compiler).
var golangRecipe = Recipe{
	Name:       "golang",
	Repository: "library/golang",
	Base:       "debian",
	Key: func(ctx context.Context, env *Env) (string, error) {
		v, err := goVersion(ctx)
		if err != nil {
			return "", err
		}
		return "go=" + v + " goroot=" + goRoot + " recipe=1", nil
	},
	Build: buildGolang,
}

// goVersion is the toolchain's own version, such as "1.26.8".
func goVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(goRoot, "bin", "go"), "env",
		"GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("no Go toolchain at %s: %w", goRoot, err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
	if _, _, ok := majorMinor(v); !ok {
		return "", fmt.Errorf("go toolchain at %s reports version %q", goRoot, v)
	}
	return v, nil
}

func buildGolang(ctx context.Context, env *Env, base v1.Image) (v1.Image, []string, error) {
	version, err := goVersion(ctx)
	if err != nil {
		return nil, nil, err
	}
	spec := imageSpec{
		createdBy: "layerlab seed: Go " + version + " toolchain at " + goRoot,
		env: []string{
			"PATH=/go/bin:" + goRoot + "/bin:" + defaultPath,
			"GOLANG_VERSION=" + version,
			"GOTOOLCHAIN=local",
			"GOPATH=/go",
		},
		workdir: "/go",
		cmd:     []string{"bash"},
	}
	img, err := derive(ctx, env, base, spec, func(ctx context.Context, root string) error {
		dest := filepath.Join(root, strings.TrimPrefix(goRoot, "/"))
		if err := run(ctx, env, "cp", "-a", "--no-preserve=ownership", goRoot, dest); err != nil {
			return err
		}
		// Owned by root whoever installed it here, and world-writable GOPATH
		// as in the official image, so that a non-root user can build.
		if err := run(ctx, env, "chown", "-R", "-h", "0:0", dest); err != nil {
			return err
		}
		for _, d := range []string{"go", "go/bin", "go/src"} {
			p := filepath.Join(root, d)
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(p, 0o1777); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	major, minor, _ := majorMinor(version)
	return img, []string{version + "-bookworm", major + "." + minor + "-bookworm"}, nil
}
