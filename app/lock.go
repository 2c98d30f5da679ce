package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockFile is the file in the data directory that a server holds an
// exclusive flock(2) on for as long as it runs. It holds the server's pid.
const LockFile = "layerlab.lock"

// DataInUseError says that another process holds the data directory.
type DataInUseError struct {
	Dir string
	// PID is the holder's pid as its lock file says, 0 if unreadable.
	PID int
}

func (e *DataInUseError) Error() string {
	holder := "pid unknown"
	if e.PID > 0 {
		holder = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by another layerlab server (%s); "+
		"stop it or use another data directory", e.Dir, holder)
}

// dataLock is a held lock on a data directory.
type dataLock struct {
	f *os.File
}

// lockData takes the exclusive lock on dir without waiting, and writes this
// process's pid into the lock file. The kernel drops the lock when the
// process ends, however it ends, so a stale file never blocks a new server.
func lockData(dir string) (*dataLock, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	path := filepath.Join(abs, LockFile)
	// No O_TRUNC: the file may belong to a running server, whose pid it holds.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &DataInUseError{Dir: abs, PID: holderPID(f)}
		}
		return nil, fmt.Errorf("lock data dir %s: %w", abs, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write data dir lock %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write data dir lock %s: %w", path, err)
	}
	return &dataLock{f: f}, nil
}

// holderPID reads the pid from a lock file another process holds. The holder
// writes it just after taking the lock, so an empty file is read again for a
// moment before giving up.
func holderPID(f *os.File) int {
	buf := make([]byte, 32)
	for range 20 {
		n, _ := f.ReadAt(buf, 0)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err == nil && pid > 0 {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// release empties the lock file and drops the lock. The file stays: removing
// it would let a server that opened it just before lock a file nobody else
// can see any more.
func (l *dataLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = l.f.Close()
	l.f = nil
}
