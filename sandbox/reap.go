package sandbox

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// runcRoot is where runc keeps container state; BuildKit's OCI worker uses
// runc's default.
const runcRoot = "/run/runc"

// reap ends what a dead daemon left running: the containers of its RUN
// steps, which runc started in sessions of their own, and the mounts of
// their root file systems. Only containers whose root file system lies under
// the daemon's root are touched, so other daemons on the machine keep theirs.
func reap(root, runc string, log *slog.Logger) {
	entries, _ := os.ReadDir(runcRoot)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(runcRoot, e.Name(), "state.json"))
		if err != nil {
			continue
		}
		var state struct {
			ID     string `json:"id"`
			Config struct {
				Rootfs string `json:"rootfs"`
			} `json:"config"`
		}
		if json.Unmarshal(data, &state) != nil || !strings.HasPrefix(state.Config.Rootfs, root+"/") {
			continue
		}
		out, err := exec.Command(runc, "delete", "--force", state.ID).CombinedOutput()
		if err != nil {
			log.Warn("remove a container the worker left", "container", state.ID, "error", err,
				"output", strings.TrimSpace(string(out)))
			continue
		}
		log.Info("removed a container the worker left", "container", state.ID)
	}
	unmountUnder(root, log)
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string, log *slog.Logger) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil {
			log.Warn("unmount what the worker left", "mount", points[i], "error", err)
		}
	}
}
