//go:build !unix && !windows

package sqlite

import "sync"

// On platforms without file locks, the lock only excludes applies within
// this process.
var (
	localMu    sync.Mutex
	localLocks = map[string]bool{}
)

type fileLock struct{ path string }

func tryLock(path string) (*fileLock, bool, error) {
	localMu.Lock()
	defer localMu.Unlock()
	if localLocks[path] {
		return nil, false, nil
	}
	localLocks[path] = true
	return &fileLock{path: path}, true, nil
}

func (l *fileLock) unlock() error {
	localMu.Lock()
	defer localMu.Unlock()
	delete(localLocks, l.path)
	return nil
}
