package sandbox

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
)

// DaemonConfig says how to run a managed buildkitd.
type DaemonConfig struct {
	// Binary is the buildkitd executable, built from the BuildKit version
	// pinned in go.mod.
	Binary string
	// Root holds the daemon's state, config, socket and log. Only the
	// server's user can enter it, which is what guards the socket.
	Root string
	// MirrorAddr is the host:port of layerlab's image mirror, used for
	// docker.io. Empty means no mirror.
	MirrorAddr string
	// CNIBinaryDir holds the CNI plugins for bridge networking.
	CNIBinaryDir string
	// Runc is the OCI runtime binary.
	Runc string
}

// Daemon supervises a buildkitd child process: it starts it, restarts it with
// backoff when it dies, and tells builds in flight that it went away.
type Daemon struct {
	cfg  DaemonConfig
	addr string
	log  *slog.Logger

	mu       sync.Mutex
	state    string
	version  string
	ready    chan struct{}
	life     context.Context
	endLife  context.CancelCauseFunc
	cmd      *exec.Cmd
	stopping bool

	done chan struct{}
}

// StartDaemon writes the daemon's config and starts supervising it. It
// returns at once; WaitReady tells when the worker answers.
func StartDaemon(cfg DaemonConfig, log *slog.Logger) (*Daemon, error) {
	if cfg.CNIBinaryDir == "" {
		cfg.CNIBinaryDir = "/usr/lib/cni"
	}
	if cfg.Runc == "" {
		cfg.Runc = "runc"
	}
	if _, err := exec.LookPath(cfg.Binary); err != nil {
		return nil, fmt.Errorf("find buildkitd (run make build): %w", err)
	}
	runc, err := exec.LookPath(cfg.Runc)
	if err != nil {
		return nil, fmt.Errorf("find runc (install Debian's runc package): %w", err)
	}
	cfg.Runc = runc
	if _, err := os.Stat(filepath.Join(cfg.CNIBinaryDir, "bridge")); err != nil {
		return nil, fmt.Errorf("find CNI bridge plugin (install Debian's containernetworking-plugins): %w", err)
	}
	// The bridge's name derives from the root, and reap matches containers
	// by their absolute root file system paths: both need the absolute path.
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("buildkitd root: %w", err)
	}
	cfg.Root = root
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("create buildkitd root: %w", err)
	}
	if err := os.Chmod(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("restrict buildkitd root: %w", err)
	}
	if err := os.WriteFile(configPath(cfg), []byte(daemonConfigTOML(cfg)), 0o600); err != nil {
		return nil, fmt.Errorf("write buildkitd config: %w", err)
	}

	life, endLife := context.WithCancelCause(context.Background())
	endLife(errors.New("not started"))
	d := &Daemon{
		cfg:     cfg,
		addr:    "unix://" + filepath.Join(cfg.Root, "buildkitd.sock"),
		log:     log,
		state:   "starting",
		ready:   make(chan struct{}),
		life:    life,
		endLife: endLife,
		done:    make(chan struct{}),
	}
	go d.supervise()
	return d, nil
}

// Address is the daemon's gRPC address.
func (d *Daemon) Address() string { return d.addr }

// State says in a few words what the daemon is doing.
func (d *Daemon) State() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Lifetime is a context that ends when the running daemon process exits.
func (d *Daemon) Lifetime() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.life
}

// WaitReady waits up to timeout for the daemon to answer.
func (d *Daemon) WaitReady(ctx context.Context, timeout time.Duration) error {
	d.mu.Lock()
	ready := d.ready
	d.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return fmt.Errorf("the BuildKit worker is not ready after %s (%s)", timeout, d.State())
	}
}

// Stop ends the daemon for good: SIGTERM, then SIGKILL after a grace period.
// Once it has exited, the bridge of its network is removed.
func (d *Daemon) Stop(grace time.Duration) {
	defer removeBridge(BridgeName(d.cfg.Root), d.log)
	d.mu.Lock()
	d.stopping = true
	cmd := d.cmd
	d.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
			return
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-d.done
}

func (d *Daemon) supervise() {
	defer close(d.done)
	backoff := 500 * time.Millisecond
	for {
		started := time.Now()
		err := d.runOnce()

		d.mu.Lock()
		stopping := d.stopping
		d.mu.Unlock()
		if stopping {
			d.log.Info("worker stopped", "address", d.addr)
			return
		}
		if time.Since(started) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		d.log.Error("worker exited; restarting", "error", err, "restart_in", backoff.String(),
			"log", filepath.Join(d.cfg.Root, "buildkitd.log"))
		time.Sleep(backoff)
		backoff = min(backoff*2, 30*time.Second)
	}
}

// runOnce starts buildkitd, waits for it to answer, and returns when it exits.
func (d *Daemon) runOnce() error {
	_ = os.Remove(strings.TrimPrefix(d.addr, "unix://"))
	reap(d.cfg.Root, d.cfg.Runc, d.log)
	logFile, err := os.OpenFile(filepath.Join(d.cfg.Root, "buildkitd.log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open buildkitd log: %w", err)
	}
	defer logFile.Close()

	cmd := exec.Command(d.cfg.Binary, "--config", configPath(d.cfg))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// The daemon must not outlive the server, even when the server is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start buildkitd: %w", err)
	}
	pidFile := filepath.Join(d.cfg.Root, "buildkitd.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		d.log.Warn("write worker pid file", "error", err)
	}
	life, endLife := context.WithCancelCause(context.Background())
	d.mu.Lock()
	if d.stopping {
		d.mu.Unlock()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		endLife(errWorkerStopped)
		return nil
	}
	d.cmd, d.life, d.endLife = cmd, life, endLife
	d.state = "starting"
	d.mu.Unlock()

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	go d.awaitReady(life, cmd.Process.Pid)

	err = <-exited
	d.mu.Lock()
	d.state = "restarting after the worker exited"
	d.ready = make(chan struct{})
	d.mu.Unlock()
	endLife(errWorkerStopped)
	reap(d.cfg.Root, d.cfg.Runc, d.log)
	if err == nil {
		err = errors.New("buildkitd exited")
	}
	return fmt.Errorf("buildkitd (pid %d): %w", cmd.Process.Pid, err)
}

// awaitReady polls the new daemon until it answers, then marks it ready.
func (d *Daemon) awaitReady(life context.Context, pid int) {
	ctx, cancel := context.WithTimeout(life, 2*time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		if version, err := probe(ctx, d.addr); err == nil {
			d.mu.Lock()
			d.state, d.version = "ready", version
			close(d.ready)
			d.mu.Unlock()
			d.log.Info("worker ready", "managed", true, "address", d.addr, "pid", pid,
				"buildkit_version", version, "network", "bridge", "mirror", d.cfg.MirrorAddr)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if life.Err() == nil {
		d.log.Error("worker did not answer in time", "address", d.addr, "pid", pid)
	}
}

func probe(ctx context.Context, addr string) (string, error) {
	if strings.HasPrefix(addr, "unix://") {
		if _, err := os.Stat(strings.TrimPrefix(addr, "unix://")); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := client.New(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		return "", err
	}
	return info.BuildkitVersion.Version, nil
}

// BridgeName is the name of the bridge that the managed daemon with this
// root (as StartDaemon makes it absolute) puts RUN steps on.
func BridgeName(root string) string {
	name, _ := bridgeNetwork(root)
	return name
}

// bridgeNetwork derives the bridge's name and subnet from the daemon's root.
func bridgeNetwork(root string) (name, subnet string) {
	h := fnv.New32a()
	h.Write([]byte(root))
	sum := h.Sum32()
	return fmt.Sprintf("ll%08x", sum), fmt.Sprintf("10.%d.%d.0/24", 200+sum%50, (sum>>8)%256)
}

func configPath(cfg DaemonConfig) string { return filepath.Join(cfg.Root, "buildkitd.toml") }

// daemonConfigTOML is the managed daemon's config. RUN steps get a network
// namespace of their own on a bridge whose name and subnet derive from the
// root, so two daemons on one machine (a server and a test run) never share
// one. No insecure entitlement is granted.
func daemonConfigTOML(cfg DaemonConfig) string {
	bridge, subnet := bridgeNetwork(cfg.Root)

	var b strings.Builder
	fmt.Fprintf(&b, "root = %q\n\n", filepath.Join(cfg.Root, "state"))
	fmt.Fprintf(&b, "[grpc]\n  address = [%q]\n  uid = %d\n  gid = %d\n\n",
		"unix://"+filepath.Join(cfg.Root, "buildkitd.sock"), os.Getuid(), os.Getgid())
	fmt.Fprintf(&b, "[worker.oci]\n  enabled = true\n  binary = %q\n  gc = true\n", cfg.Runc)
	fmt.Fprintf(&b, "  networkMode = \"bridge\"\n  cniBinaryPath = %q\n", cfg.CNIBinaryDir)
	fmt.Fprintf(&b, "  bridgeName = %q\n  bridgeSubnet = %q\n\n", bridge, subnet)
	b.WriteString("[worker.containerd]\n  enabled = false\n\n")
	if cfg.MirrorAddr != "" {
		fmt.Fprintf(&b, "[registry.\"docker.io\"]\n  mirrors = [%q]\n\n", cfg.MirrorAddr)
		fmt.Fprintf(&b, "[registry.%q]\n  http = true\n", cfg.MirrorAddr)
	}
	return b.String()
}
