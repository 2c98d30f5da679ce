package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/layerlab/layerlab/app"
	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/internal/labtest"
	"github.com/layerlab/layerlab/sandbox"
)

// A second server on the data directory of a running one refuses to start,
// naming the directory and the holder's pid, and leaves the first one's
// worker alone: its config, pid file and socket stay, and it goes on
// running RUN steps.
func TestSecondServerOnSameDataRefused(t *testing.T) {
	ctx := context.Background()
	shared := labtest.App(t)
	data := shared.DataDir()
	buildkitd, err := labtest.Buildkitd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(data, "buildkit")
	watched := []string{
		filepath.Join(data, app.LockFile),
		filepath.Join(root, "buildkitd.toml"),
		filepath.Join(root, "buildkitd.pid"),
	}
	before := map[string]string{}
	for _, p := range watched {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		before[p] = string(b)
	}
	sock := filepath.Join(root, "buildkitd.sock")
	sockBefore := inode(t, sock)

	second, err := app.Start(ctx, app.Config{
		Addr:         "127.0.0.1:0",
		Data:         data,
		Buildkitd:    buildkitd,
		Concurrency:  1,
		BuildTimeout: time.Minute,
	}, labtest.Logger())
	if err == nil {
		second.Close(ctx)
		t.Fatal("a second server started on the data directory of a running one")
	}
	var inUse *app.DataInUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second server: %v, want a DataInUseError", err)
	}
	abs, _ := filepath.Abs(data)
	for _, want := range []string{"data directory " + abs, "pid " + strconv.Itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second server's error %q does not contain %q", err, want)
		}
	}

	// What a second worker would have done happens in the background;
	// give it time to show.
	time.Sleep(2 * time.Second)
	for _, p := range watched {
		if b, _ := os.ReadFile(p); string(b) != before[p] {
			t.Errorf("%s changed from %q to %q", p, before[p], b)
		}
	}
	if after := inode(t, sock); after != sockBefore {
		t.Errorf("the worker's socket was replaced (inode %d, before %d)", after, sockBefore)
	}

	c := labtest.NewClient(t)
	f := c.Build(t, labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo still-building > /out.txt && cat /out.txt\n"}})
	requireStatus(t, f, domain.StatusSucceeded)
	if !strings.Contains(f.Log(), "still-building") {
		t.Errorf("the RUN step's output is missing from the log: %q", f.Log())
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// A server that stops releases its data directory, so the next one starts
// there, and removes the bridge its worker's RUN steps used. BuildKit removes
// a bridge itself only if it made it and exits cleanly; a worker restarted
// after a crash finds its predecessor's bridge and leaves it, so the test
// kills the worker once before stopping.
func TestStoppedServerReleasesDataAndBridge(t *testing.T) {
	ctx := context.Background()
	data, err := os.MkdirTemp("", "layerlab-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(data)
	bridge := sandbox.BridgeName(filepath.Join(data, "buildkit"))

	a, err := labtest.Start(ctx, data, labtest.Options{Images: []string{"busybox"}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			a.Close(ctx)
		}
	}()
	c := &labtest.Client{Base: a.URL()}
	f := c.Build(t, labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo networked > /out.txt\n"}})
	requireStatus(t, f, domain.StatusSucceeded)
	if _, err := netlink.LinkByName(bridge); err != nil {
		t.Fatalf("after a RUN step, the worker's bridge %s: %v", bridge, err)
	}
	killed := strconv.Itoa(killWorkerOf(t, data)) + "\n"
	pidFile := filepath.Join(data, "buildkit", "buildkitd.pid")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if b, _ := os.ReadFile(pidFile); len(b) > 0 && string(b) != killed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker did not restart within a minute")
		}
	}
	if err := a.WaitReady(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	f = c.Build(t, labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo networked again > /out.txt\n"}})
	requireStatus(t, f, domain.StatusSucceeded)
	if _, err := netlink.LinkByName(bridge); err != nil {
		t.Fatalf("after the restarted worker ran a step, its bridge %s: %v", bridge, err)
	}

	a.Close(ctx)
	stopped = true
	_, err = netlink.LinkByName(bridge)
	var notFound netlink.LinkNotFoundError
	if !errors.As(err, &notFound) {
		t.Errorf("after the server stopped, looking up its bridge %s gave %v, want not found", bridge, err)
	}
	if b, _ := os.ReadFile(filepath.Join(data, app.LockFile)); len(b) != 0 {
		t.Errorf("the stopped server left its pid in the lock file: %q", b)
	}

	again, err := labtest.Start(ctx, data, labtest.Options{})
	if err != nil {
		t.Fatalf("a server on the data directory of a stopped one: %v", err)
	}
	again.Close(ctx)
}
