// Package static holds the stylesheet, the lab's script and the icons. They
// are embedded in the binary and served under names that carry a hash of
// their content ("lab.3f2a9c1e0b.js"), so a browser may keep each one for a
// year and still never run a stale copy after an upgrade.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed app.css kit.js lab.js compare.js icons
var embedded embed.FS

// Prefix is the URL path the assets are served under.
const Prefix = "/static/"

// asset is one embedded file and the name it is served under.
type asset struct {
	hashed      string
	contentType string
	data        []byte
}

// Assets indexes the embedded files by their plain and their hashed names.
type Assets struct {
	byName   map[string]*asset
	byHashed map[string]*asset
}

// builtin loads the embedded files once; they cannot change while the
// program runs.
var builtin = sync.OnceValues(func() (*Assets, error) { return Load(embedded) })

// Load hashes every file of fsys.
func Load(fsys fs.FS) (*Assets, error) {
	a := &Assets{byName: map[string]*asset{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ext := path.Ext(name)
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		as := &asset{
			hashed:      strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:5]) + ext,
			contentType: ct,
			data:        data,
		}
		a.byName[name] = as
		a.byHashed[as.hashed] = as
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static assets: %w", err)
	}
	return a, nil
}

// Builtin returns the assets embedded in the binary.
func Builtin() *Assets {
	a, err := builtin()
	if err != nil {
		// Reading an embed.FS only fails if the binary itself is broken.
		panic(err)
	}
	return a
}

// URL returns the path the named asset is served under, such as
// "/static/app.1a2b3c4d5e.css". Templates name assets by constant strings,
// so an unknown name is a programming error: it panics, and the page tests
// render every page.
func URL(name string) string { return Builtin().URL(name) }

// URL is like the package-level URL for the assets in a.
func (a *Assets) URL(name string) string {
	as, ok := a.byName[name]
	if !ok {
		panic(fmt.Sprintf("static: no asset %q", name))
	}
	return Prefix + as.hashed
}

// ServeHTTP serves an asset by the path after Prefix. A hashed name is
// cached for a year; a plain name is served too, for people and tools that
// guess it, but must be revalidated every time.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	as, hashed := a.byHashed[name]
	if !hashed {
		as = a.byName[name]
	}
	if as == nil {
		http.NotFound(w, r)
		return
	}

	h := w.Header()
	h.Set("Content-Type", as.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+as.hashed+`"`)
	if hashed {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(as.data))
}
