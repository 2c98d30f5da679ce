package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Handler serves the mirror as a read-only registry (the OCI distribution
// API, /v2/...). Pushes are refused: images enter the mirror only through
// Seed and Import, which validate them and keep the layout consistent.
//
// The handler notices a changed index.json on the next request, so images
// seeded by another process appear without a restart.
func (m *Mirror) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeRegistryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED",
				"the layerlab mirror is read-only; use `layerlab images import`")
			return
		}
		reg, err := m.registry()
		if err != nil {
			m.log.Error("mirror unavailable", "dir", m.dir, "error", err)
			writeRegistryError(w, http.StatusInternalServerError, "UNKNOWN", "mirror unavailable")
			return
		}
		reg.ServeHTTP(w, r)
	})
}

// Serve listens on addr, which must be a loopback address ("127.0.0.1:0"
// picks a free port), and serves Handler until ctx ends. It returns the
// address it really listens on once the listener is up.
func (m *Mirror) Serve(ctx context.Context, addr string) (net.Addr, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := checkLoopback(addr); err != nil {
		return nil, fmt.Errorf("serve mirror: %w", err)
	}
	// Load now, so that a broken layout fails here rather than on the first pull.
	if _, err := m.registry(); err != nil {
		return nil, fmt.Errorf("serve mirror: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve mirror: %w", err)
	}
	srv := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A layer of a few hundred megabytes on a slow disk still fits.
		WriteTimeout: 30 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("mirror stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			srv.Close()
		}
		m.log.Info("mirror closed", "addr", ln.Addr().String())
	}()
	m.log.Info("mirror serving", "addr", ln.Addr().String(), "dir", m.dir)
	return ln.Addr(), nil
}

// checkLoopback refuses any address but a loopback IP: the mirror has no
// authentication, and BuildKit's bridge network can reach the host's other
// addresses.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: the mirror listens on a loopback IP only, such as 127.0.0.1",
			addr)
	}
	return nil
}

func writeRegistryError(w http.ResponseWriter, status int, code, msg string) {
	type item struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string][]item{"errors": {{Code: code, Message: msg}}})
}

// indexStamp tells one version of index.json from another. The file is
// always replaced by rename, so the inode changes with every write.
type indexStamp struct {
	ino   uint64
	size  int64
	mtime time.Time
}

func statIndex(dir string) (indexStamp, error) {
	fi, err := os.Stat(filepath.Join(dir, "index.json"))
	if err != nil {
		return indexStamp{}, err
	}
	st := indexStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}

// registry returns the in-memory registry for the current index.json,
// rebuilding it when the file changed. If a rebuild fails, the previous
// registry goes on serving and the failure is logged.
func (m *Mirror) registry() (http.Handler, error) {
	st, err := statIndex(m.dir)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reg != nil && st == m.stamp {
		return m.reg, nil
	}
	var reg http.Handler
	var n int
	err = m.withLock(syscall.LOCK_SH, func() error {
		// Stat again under the lock: a writer may have finished in between.
		if st, err = statIndex(m.dir); err != nil {
			return err
		}
		reg, n, err = m.loadRegistry()
		return err
	})
	if err != nil {
		if m.reg != nil {
			m.log.Error("mirror reload failed; serving the previous index", "error", err)
			return m.reg, nil
		}
		return nil, fmt.Errorf("load mirror %s: %w", m.dir, err)
	}
	m.reg, m.stamp = reg, st
	m.log.Info("mirror loaded", "dir", m.dir, "tags", n)
	return reg, nil
}

// loadRegistry builds a fresh registry whose blobs are the layout's own files
// and pushes into it, in process, the manifest of every tag in index.json.
func (m *Mirror) loadRegistry() (http.Handler, int, error) {
	reg := registry.New(
		registry.WithBlobHandler(layoutBlobs{
			BlobHandler: registry.NewDiskBlobHandler(filepath.Join(m.dir, "blobs")),
			dir:         filepath.Join(m.dir, "blobs"),
		}),
		registry.Logger(slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)),
	)
	idx, err := readIndex(m.dir)
	if err != nil {
		return nil, 0, err
	}
	// The host only labels requests that never leave this process.
	host, err := name.NewRegistry("127.0.0.1", name.Insecure)
	if err != nil {
		return nil, 0, err
	}
	push := remote.WithTransport(handlerTransport{reg})
	n := 0
	for _, desc := range idx.Manifests {
		r := refOf(desc)
		if r.Repository == "" {
			m.log.Warn("mirror entry without a docker.io name skipped", "digest", desc.Digest.String())
			continue
		}
		img, err := m.layout.Image(desc.Digest)
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", r, err)
		}
		tag := host.Repo(r.Repository).Tag(r.Tag)
		if err := remote.Put(tag, img, push); err != nil {
			return nil, 0, fmt.Errorf("load %s: %w", r, err)
		}
		n++
	}
	return reg, n, nil
}

// handlerTransport carries go-containerregistry's client requests straight to
// a handler, with no socket.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if req.Body != nil {
		req.Body.Close()
	}
	return rec.Result(), nil
}

// layoutBlobs serves blobs from the layout's blobs directory through the
// registry's disk handler, but answers Stat from the file size: the disk
// handler rehashes the whole blob on every request, which for a base image
// layer costs more than sending it. Every blob in the layout was verified
// when it was written.
type layoutBlobs struct {
	registry.BlobHandler
	dir string
}

func (b layoutBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	fi, err := os.Stat(filepath.Join(b.dir, h.Algorithm, h.Hex))
	if errors.Is(err, os.ErrNotExist) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
