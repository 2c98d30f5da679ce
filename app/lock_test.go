package app

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestDataLock(t *testing.T) {
	dir := t.TempDir()
	first, err := lockData(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, LockFile)
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(os.Getpid())
	if strings.TrimSpace(string(content)) != pid {
		t.Fatalf("lock file holds %q, want the pid %s", content, pid)
	}

	// flock(2) locks belong to open files, so a second open in this
	// process is refused just as another process would be.
	second, err := lockData(dir)
	var inUse *DataInUseError
	if !errors.As(err, &inUse) {
		second.release()
		t.Fatalf("second lock: %v, want a DataInUseError", err)
	}
	want := "data directory " + dir + " is in use by another layerlab server (pid " + pid + ")"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("second lock: %q, want it to contain %q", err, want)
	}
	if again, _ := os.ReadFile(path); string(again) != string(content) {
		t.Fatalf("a refused lock changed the lock file from %q to %q", content, again)
	}

	first.release()
	third, err := lockData(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	third.release()
}
