package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/layerlab/layerlab/mirror"
)

const imagesUsage = `usage: layerlab images COMMAND [flags]

Manage the local image mirror that the build worker uses for docker.io.

commands:
  ls [--no-trunc]          list the images in the mirror, with their compressed size
  seed [NAME...]           build images from this machine's packages, or take them from
                           the cache (--cache DIR, --rebuild); default all of: %s
  import FILE [--name N:T] add a docker save archive, an OCI layout (directory or tar)
                           or a root file system tar (needs --name)
  rm NAME:TAG...           remove tags, and the blobs no other tag uses
  serve [--addr A]         serve the mirror alone on a loopback address until interrupted

flags:
  --data DIR   data directory (default: $LAYERLAB_DATA, else ./data); the mirror is DIR/mirror
`

// runImages runs `layerlab images ...` with args after "images".
func runImages(ctx context.Context, args []string, log *slog.Logger) error {
	return imagesCommand(ctx, args, os.Stdout, log)
}

func imagesCommand(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(out, imagesUsage, strings.Join(mirror.RecipeNames(), ", "))
		if len(args) == 0 {
			return errors.New("images: missing command")
		}
		return nil
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("images "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	data := fs.String("data", defaultDataDir(), "data directory")
	var (
		noTrunc  = new(bool)
		cacheDir = new(string)
		rebuild  = new(bool)
		nameFlag = new(string)
		addrFlag = new(string)
	)
	switch cmd {
	case "ls", "list":
		fs.BoolVar(noTrunc, "no-trunc", false, "show whole digests")
	case "seed":
		fs.StringVar(cacheDir, "cache", env("LAYERLAB_CACHE", mirror.DefaultCacheDir()),
			"cache of built images shared by data directories")
		fs.BoolVar(rebuild, "rebuild", false, "build again even if the cache has the image")
	case "import":
		fs.StringVar(nameFlag, "name", "", "NAME:TAG to store the image under")
	case "rm", "remove":
	case "serve":
		fs.StringVar(addrFlag, "addr", "127.0.0.1:5000", "loopback address to listen on")
	default:
		fmt.Fprintf(out, imagesUsage, strings.Join(mirror.RecipeNames(), ", "))
		return fmt.Errorf("images: unknown command %q", cmd)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return fmt.Errorf("images %s: %w", cmd, err)
	}

	m, err := mirror.Open(filepath.Join(*data, "mirror"), log)
	if err != nil {
		return err
	}
	switch cmd {
	case "ls", "list":
		if len(pos) > 0 {
			return fmt.Errorf("images ls: unexpected argument %q", pos[0])
		}
		imgs, err := m.Images()
		if err != nil {
			return err
		}
		return printImages(out, imgs, *noTrunc)
	case "seed":
		imgs, err := m.Seed(ctx, pos, mirror.SeedOptions{CacheDir: *cacheDir, Rebuild: *rebuild})
		if len(imgs) > 0 {
			printImages(out, imgs, false)
		}
		return err
	case "import":
		if len(pos) != 1 {
			return errors.New("images import: want exactly one FILE")
		}
		imgs, err := m.Import(ctx, pos[0], *nameFlag)
		if err != nil {
			return err
		}
		return printImages(out, imgs, false)
	case "serve":
		addr, err := m.Serve(ctx, *addrFlag)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "serving %s on http://%s\n", m.Dir(), addr)
		<-ctx.Done()
		return nil
	default: // rm
		if len(pos) == 0 {
			return errors.New("images rm: want NAME:TAG")
		}
		for _, ref := range pos {
			if err := m.Remove(ref); err != nil {
				return err
			}
			fmt.Fprintf(out, "removed %s\n", ref)
		}
		return nil
	}
}

// parseInterleaved parses flags that may come before or after the
// positional arguments ("import FILE --name x:y") and returns the latter.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func printImages(out io.Writer, imgs []mirror.Image, noTrunc bool) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	// What the mirror stores: compressed layers. The lab shows images unpacked.
	fmt.Fprintln(tw, "NAME\tTAG\tDIGEST\tCOMPRESSED\tCREATED")
	for _, img := range imgs {
		digest := img.Digest.String()
		if !noTrunc && len(digest) > 19 {
			digest = digest[:19]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", img.Ref.Name(), img.Ref.Tag, digest,
			humanSize(img.Size), img.Created.UTC().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGT"[exp])
}

func defaultDataDir() string { return env("LAYERLAB_DATA", "data") }
