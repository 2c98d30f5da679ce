// Package app wires layerlab's parts into a running server: the image mirror,
// the BuildKit worker (managed or remote), the build runner and the HTTP
// handlers. The command and the end-to-end tests both start it from here.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/handlers"
	"github.com/layerlab/layerlab/mirror"
	"github.com/layerlab/layerlab/sandbox"
)

// Config is everything `layerlab serve` can be told.
type Config struct {
	Addr string
	Data string
	// BuildkitAddr, when set, is an existing buildkitd to use instead of
	// starting one. It does not get layerlab's image mirror.
	BuildkitAddr string
	// Buildkitd is the buildkitd binary for the managed worker.
	Buildkitd    string
	CNIBinaryDir string

	Limits       domain.Limits
	Concurrency  int
	BuildTimeout time.Duration
}

// App is a running layerlab.
type App struct {
	cfg     Config
	log     *slog.Logger
	addr    net.Addr
	http    *http.Server
	server  *handlers.Server
	runner  *domain.Runner
	worker  *sandbox.Worker
	daemon  *sandbox.Daemon
	mirror  net.Addr
	stopMir context.CancelFunc
	// mirrorStore is the managed worker's image mirror; nil with a remote
	// worker.
	mirrorStore *mirror.Mirror
	served      chan error
	// lock is held on the data directory from before anything under it is
	// touched until everything is stopped.
	lock *dataLock
}

// Start brings every part up and starts serving HTTP. It first takes the
// data directory's lock; if another server holds it, Start changes nothing
// and returns a *DataInUseError. On error, whatever started is stopped again.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			a.Close(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if a.lock, err = lockData(cfg.Data); err != nil {
		return nil, err
	}

	workerAddr := cfg.BuildkitAddr
	if workerAddr == "" {
		if err := a.startMirror(ctx); err != nil {
			return nil, err
		}
		a.daemon, err = sandbox.StartDaemon(sandbox.DaemonConfig{
			Binary:       cfg.Buildkitd,
			Root:         filepath.Join(cfg.Data, "buildkit"),
			MirrorAddr:   a.mirror.String(),
			CNIBinaryDir: cfg.CNIBinaryDir,
		}, log.With("component", "worker"))
		if err != nil {
			return nil, fmt.Errorf("start worker: %w", err)
		}
		workerAddr = a.daemon.Address()
	} else {
		log.Info("using an existing worker; it does not use layerlab's image mirror",
			"managed", false, "address", workerAddr)
	}

	a.worker, err = sandbox.NewWorker(ctx, workerAddr, a.daemon, filepath.Join(cfg.Data, "contexts"),
		log.With("component", "worker"))
	if err != nil {
		return nil, err
	}
	if a.mirrorStore != nil {
		a.worker.SetSalter(mirrorSalter{a.mirrorStore, log.With("component", "mirror")})
	}
	if a.daemon == nil {
		a.logRemoteWorker(ctx)
	}
	a.runner = domain.NewRunner(a.worker, domain.RunnerConfig{
		Limits:      cfg.Limits,
		Concurrency: cfg.Concurrency,
		Timeout:     cfg.BuildTimeout,
	}, log.With("component", "runner"))

	if err := a.serveHTTP(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) startMirror(ctx context.Context) error {
	m, err := mirror.Open(filepath.Join(a.cfg.Data, "mirror"), a.log.With("component", "mirror"))
	if err != nil {
		return fmt.Errorf("open image mirror: %w", err)
	}
	if m.Empty() {
		a.log.Warn("the image mirror is empty; run `layerlab images seed` (make images) "+
			"or builds can use only images the registry serves", "dir", m.Dir())
	}
	a.mirrorStore = m
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopMir = cancel
	a.mirror, err = m.Serve(mctx, "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("serve image mirror: %w", err)
	}
	return nil
}

func (a *App) logRemoteWorker(ctx context.Context) {
	h := a.worker.Health(ctx)
	if !h.Ready {
		a.log.Warn("worker not answering yet", "managed", false, "address", h.Address, "reason", h.Reason)
		return
	}
	a.log.Info("worker ready", "managed", false, "address", h.Address, "buildkit_version", h.Version)
}

func (a *App) serveHTTP(ctx context.Context) error {
	e, srv := handlers.New(handlers.Deps{
		Runner: a.runner,
		Runs:   domain.NewRuns(a.runner, a.worker, a.log.With("component", "runs")),
		Health: a.worker.Health,
		Log:    a.log.With("component", "http"),
	})
	a.server = srv
	a.http = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
	}
	a.addr = ln.Addr()
	go func() { a.served <- a.http.Serve(ln) }()
	a.log.Info("serving", "addr", "http://"+a.addr.String(), "data", a.cfg.Data)
	if tcp, ok := a.addr.(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		// RUN steps reach the host through the worker's bridge network, so
		// a build can talk to anything listening beyond loopback.
		a.log.Warn("serving beyond loopback: RUN steps of the builds can reach this server",
			"addr", a.addr.String())
	}
	return nil
}

// Addr is where the HTTP server listens.
func (a *App) Addr() net.Addr { return a.addr }

// URL is the server's base URL.
func (a *App) URL() string { return "http://" + a.addr.String() }

// WaitReady waits until the worker answers.
func (a *App) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		h := a.worker.Health(ctx)
		if h.Ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("worker not ready after %s: %s", timeout, h.Reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// DataDir is the data directory the app runs on.
func (a *App) DataDir() string { return a.cfg.Data }

// Runner is the app's build runner.
func (a *App) Runner() *domain.Runner { return a.runner }

// Done is closed with the HTTP server's error when it stops serving.
func (a *App) Done() <-chan error { return a.served }

// Close shuts down in order: no new requests, builds in flight ended (each
// records its result, which open streams still deliver), event streams
// closed, then the worker and the mirror; last, the data directory's lock
// is released.
func (a *App) Close(ctx context.Context) {
	if a.http != nil {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := a.http.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("http shutdown", "error", err)
		}
		cancel()
	}
	if a.runner != nil {
		a.runner.Close()
	}
	if a.server != nil {
		a.server.CloseStreams()
	}
	if a.worker != nil {
		_ = a.worker.Close()
	}
	if a.daemon != nil {
		a.daemon.Stop(10 * time.Second)
	}
	if a.stopMir != nil {
		a.stopMir()
	}
	a.lock.release()
}

// mirrorSalter lets the worker salt base images through the image mirror.
type mirrorSalter struct {
	m   *mirror.Mirror
	log *slog.Logger
}

func (s mirrorSalter) SaltBase(ref, salt string) (string, error) {
	r, err := s.m.Salted(ref, salt)
	if err != nil {
		return "", err
	}
	return r.Full(), nil
}

func (s mirrorSalter) ReleaseSalt(salt string) {
	imgs, err := s.m.Images()
	if err != nil {
		s.log.Warn("list images to release a salt", "error", err)
		return
	}
	for _, img := range imgs {
		if strings.HasSuffix(img.Ref.Tag, "-salt-"+salt) {
			if err := s.m.Remove(img.Ref.String()); err != nil {
				s.log.Warn("remove salted image", "image", img.Ref.String(), "error", err)
			}
		}
	}
}
