package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// Recipe builds one image of the seed list from what this machine can reach:
// Debian's packages, the npm registry, the local Go toolchain. Adding an
// image to the mirror means adding a Recipe to Recipes.
type Recipe struct {
	// Name is what `layerlab images seed NAME` takes.
	Name string
	// Repository is the docker.io repository it stands in for.
	Repository string
	// Base names the recipe whose image this one is built on, or "".
	Base string
	// Key names every input of the build, such as package versions. An
	// image built before under the same key (and the same base image) is
	// taken from the cache instead of being built again.
	Key func(ctx context.Context, env *Env) (string, error)
	// Build makes the image on base (nil when Base is "") and returns it
	// with the tags that say what it really contains.
	Build func(ctx context.Context, env *Env, base v1.Image) (v1.Image, []string, error)
}

// Recipes is the seed list, in an order where every base comes first.
var Recipes = []Recipe{busyboxRecipe, debianRecipe, nodeRecipe, pythonRecipe, golangRecipe}

// Env is what recipes share during one seeding: a scratch directory on the
// cache's file system and the logger.
type Env struct {
	// WorkDir is an empty directory the recipe may use; it is removed after.
	WorkDir string
	Log     *slog.Logger
}

// SeedOptions tunes Seed.
type SeedOptions struct {
	// CacheDir keeps built images between runs and data directories;
	// DefaultCacheDir() when empty.
	CacheDir string
	// Rebuild ignores cached images.
	Rebuild bool
}

// DefaultCacheDir is $XDG_CACHE_HOME/layerlab, or ~/.cache/layerlab.
func DefaultCacheDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "layerlab")
	}
	return filepath.Join(os.TempDir(), "layerlab-cache")
}

// RecipeNames lists the names Seed accepts.
func RecipeNames() []string {
	names := make([]string, len(Recipes))
	for i, r := range Recipes {
		names[i] = r.Name
	}
	return names
}

// Seed builds the named images (all of Recipes when names is empty), or takes
// them from the cache, and tags each in the mirror as soon as it is ready. An
// image that fails to build does not stop the others, except those built on
// it; Seed then returns what it wrote along with the joined errors.
func (m *Mirror) Seed(ctx context.Context, names []string, opts SeedOptions) ([]Image, error) {
	plan, err := planSeed(names)
	if err != nil {
		return nil, err
	}
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	c, err := openCache(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	defer c.unlock()

	built := map[string]v1.Image{}
	var out []Image
	var errs []error
	for _, r := range plan {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if r.Base != "" && built[r.Base] == nil {
			errs = append(errs, fmt.Errorf("seed %s: its base %s is missing", r.Name, r.Base))
			continue
		}
		imgs, img, err := m.seedOne(ctx, c, r, built[r.Base], opts.Rebuild,
			len(names) == 0 || slices.Contains(names, r.Name))
		if err != nil {
			errs = append(errs, fmt.Errorf("seed %s: %w", r.Name, err))
			continue
		}
		built[r.Name] = img
		out = append(out, imgs...)
	}
	return out, errors.Join(errs...)
}

// seedOne gets the recipe's image from the cache or builds it, and tags it
// in the mirror unless it is only the base of another image.
func (m *Mirror) seedOne(ctx context.Context, c *seedCache, r Recipe, base v1.Image,
	rebuild, tag bool) ([]Image, v1.Image, error) {
	start := time.Now()
	img, tags, cached, err := c.image(ctx, r, base, rebuild, m.log)
	if err != nil {
		return nil, nil, err
	}
	digest, _ := img.Digest()
	m.log.Info("seed image ready", "image", r.Name, "digest", digest.String(),
		"cached", cached, "tags", strings.Join(tags, ","), "duration", time.Since(start))
	if !tag {
		return nil, img, nil
	}
	var tagged []taggedImage
	for _, t := range tags {
		tagged = append(tagged, taggedImage{ref: Ref{Repository: r.Repository, Tag: t}, img: img})
	}
	if err := m.addImages(tagged); err != nil {
		return nil, nil, err
	}
	var out []Image
	for _, t := range tagged {
		got, err := m.Lookup(t.ref.String())
		if err != nil {
			return nil, nil, err
		}
		out = append(out, got)
	}
	return out, img, nil
}

// planSeed orders the recipes to run: the named ones and their bases.
func planSeed(names []string) ([]Recipe, error) {
	if len(names) == 0 {
		return Recipes, nil
	}
	want := map[string]bool{}
	var mark func(string) error
	mark = func(n string) error {
		i := slices.IndexFunc(Recipes, func(r Recipe) bool { return r.Name == n })
		if i < 0 {
			return fmt.Errorf("seed: no image called %q; known: %s",
				n, strings.Join(RecipeNames(), ", "))
		}
		want[n] = true
		if b := Recipes[i].Base; b != "" {
			return mark(b)
		}
		return nil
	}
	for _, n := range names {
		if err := mark(n); err != nil {
			return nil, err
		}
	}
	var plan []Recipe
	for _, r := range Recipes {
		if want[r.Name] {
			plan = append(plan, r)
		}
	}
	return plan, nil
}

// Annotations of the cache's index.json.
const (
	annotationSeedKey  = "dev.layerlab.seed.key"
	annotationSeedName = "dev.layerlab.seed.recipe"
	annotationSeedTags = "dev.layerlab.seed.tags"
)

// seedCache is an OCI image layout of built images, one per recipe, each
// annotated with the key it was built from.
type seedCache struct {
	dir  string
	lock *os.File
}

// openCache opens the cache and locks it for the whole seeding, so that two
// seeds on one machine do not run debootstrap twice.
func openCache(dir string) (*seedCache, error) {
	ldir := filepath.Join(dir, "images")
	if err := os.MkdirAll(filepath.Join(ldir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("open seed cache: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open seed cache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock seed cache: %w", err)
	}
	c := &seedCache{dir: dir, lock: f}
	if _, err := os.Stat(filepath.Join(ldir, "index.json")); err != nil {
		if err := newLayout(ldir); err != nil {
			c.unlock()
			return nil, fmt.Errorf("open seed cache: %w", err)
		}
	}
	return c, nil
}

func (c *seedCache) unlock() { c.lock.Close() }

func (c *seedCache) layoutDir() string { return filepath.Join(c.dir, "images") }

// image returns the recipe's image from the cache, or builds, validates and
// caches it. The key includes the base image's digest, so a rebuilt base
// rebuilds what stands on it.
func (c *seedCache) image(ctx context.Context, r Recipe, base v1.Image, rebuild bool,
	log *slog.Logger) (v1.Image, []string, bool, error) {
	work, err := os.MkdirTemp(c.dir, "work-"+r.Name+"-")
	if err != nil {
		return nil, nil, false, err
	}
	defer removeWorkDir(work, log)
	env := &Env{WorkDir: work, Log: log.With("image", r.Name)}

	key, err := r.Key(ctx, env)
	if err != nil {
		// Offline, say, with no answer from the npm registry: the newest
		// image built before is better than none.
		if img, tags, ok := c.latest(r); ok && !rebuild {
			log.Warn("seed inputs unknown; using the cached image", "image", r.Name, "error", err)
			return img, tags, true, nil
		}
		return nil, nil, false, err
	}
	if base != nil {
		d, err := base.Digest()
		if err != nil {
			return nil, nil, false, err
		}
		key += " base=" + d.String()
	}
	idx, err := readIndex(c.layoutDir())
	if err != nil {
		return nil, nil, false, err
	}
	for _, desc := range idx.Manifests {
		if rebuild || desc.Annotations[annotationSeedKey] != key {
			continue
		}
		img, err := layout.Path(c.layoutDir()).Image(desc.Digest)
		if err == nil {
			return img, strings.Fields(desc.Annotations[annotationSeedTags]), true, nil
		}
		log.Warn("seed cache entry unreadable; rebuilding", "image", r.Name, "error", err)
	}

	env.Log.Info("building seed image", "key", key)
	img, tags, err := r.Build(ctx, env, base)
	if err != nil {
		return nil, nil, false, err
	}
	if err := validate.Image(img); err != nil {
		return nil, nil, false, fmt.Errorf("built image is invalid: %w", err)
	}
	if err := c.store(r, key, img, tags); err != nil {
		return nil, nil, false, err
	}
	// Serve from the cache's copy: the built image may point at files in the
	// work directory, which goes away.
	d, err := img.Digest()
	if err != nil {
		return nil, nil, false, err
	}
	img, err = layout.Path(c.layoutDir()).Image(d)
	return img, tags, false, err
}

// latest returns the image cached for the recipe, whatever its key.
func (c *seedCache) latest(r Recipe) (v1.Image, []string, bool) {
	idx, err := readIndex(c.layoutDir())
	if err != nil {
		return nil, nil, false
	}
	for _, desc := range idx.Manifests {
		if desc.Annotations[annotationSeedName] == r.Name {
			img, err := layout.Path(c.layoutDir()).Image(desc.Digest)
			if err != nil {
				return nil, nil, false
			}
			return img, strings.Fields(desc.Annotations[annotationSeedTags]), true
		}
	}
	return nil, nil, false
}

// store writes img into the cache in place of the recipe's older entry and
// drops the blobs nothing uses any more.
func (c *seedCache) store(r Recipe, key string, img v1.Image, tags []string) error {
	lp := layout.Path(c.layoutDir())
	if err := lp.WriteImage(img); err != nil {
		return fmt.Errorf("cache image: %w", err)
	}
	desc, err := descriptorFor(taggedImage{ref: Ref{Repository: r.Repository, Tag: tags[0]}, img: img})
	if err != nil {
		return err
	}
	desc.Annotations[annotationSeedKey] = key
	desc.Annotations[annotationSeedName] = r.Name
	desc.Annotations[annotationSeedTags] = strings.Join(tags, " ")
	idx, err := readIndex(c.layoutDir())
	if err != nil {
		return err
	}
	kept := idx.Manifests[:0:0]
	for _, d := range idx.Manifests {
		if d.Annotations[annotationSeedName] != r.Name {
			kept = append(kept, d)
		}
	}
	idx.Manifests = append(kept, desc)
	if err := writeIndex(c.layoutDir(), idx); err != nil {
		return err
	}
	return collectGarbage(c.layoutDir(), idx, nil)
}

// removeWorkDir deletes a recipe's scratch directory, unless something is
// still mounted below it (debootstrap mounts /proc and /sys in its target):
// removing the tree would then reach into the host's /proc or /sys.
func removeWorkDir(dir string, log *slog.Logger) {
	if mnt, err := mountedUnder(dir); err != nil || mnt != "" {
		log.Error("seed work directory left in place; a file system is mounted in it",
			"dir", dir, "mount", mnt, "error", err)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		log.Warn("remove seed work directory", "dir", dir, "error", err)
	}
}

// mountedUnder returns a mount point at or below dir, or "".
func mountedUnder(dir string) (string, error) {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if mp := unescapeMount(f[4]); mp == dir || strings.HasPrefix(mp, dir+"/") {
			return mp, nil
		}
	}
	return "", nil
}

// unescapeMount undoes the octal escapes of /proc/self/mountinfo (\040 for a
// space, and so on).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
