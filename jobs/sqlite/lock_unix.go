//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fileLock is an exclusive flock(2) on a file. flock locks belong to the
// open file, so two opens in one process exclude each other too.
type fileLock struct{ f *os.File }

// tryLock takes the lock on path, or reports that someone else holds it
// (ok false) after a brief second look (below), without waiting for it.
func tryLock(path string) (l *fileLock, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("open lock file: %w", err)
	}
	wait := time.Millisecond
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		// A lock just released can look taken for a moment: a process
		// being started holds copies of its parent's descriptors from fork
		// until exec has closed them, and a flock lasts while any copy is
		// open. Look again for up to about 130 ms before saying it is taken.
		if !errors.Is(err, unix.EWOULDBLOCK) || wait > 64*time.Millisecond {
			break
		}
		time.Sleep(wait)
		wait *= 2
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return &fileLock{f: f}, true, nil
}

// unlock releases the lock; closing the file does.
func (l *fileLock) unlock() error { return l.f.Close() }
