//go:build unix

package sqlite

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// A lock released while another goroutine starts a process is released:
// the child's copies of the parent's descriptors, which it holds from
// fork until exec, must not keep the flock (TestEffectsRecoverSimulatedQuarter
// once found its own rule set locked while crash_test started workers).
func TestLockReleasedWhileForking(t *testing.T) {
	if _, err := exec.LookPath("true"); err != nil {
		t.Skip("no true(1) to start")
	}
	path := filepath.Join(t.TempDir(), "lock")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = exec.Command("true").Run()
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for i := range 3000 {
		l, ok, err := tryLock(path)
		if err != nil || !ok {
			t.Fatalf("attempt %d: lock released by its holder is taken (ok %v, err %v)", i, ok, err)
		}
		if err := l.unlock(); err != nil {
			t.Fatal(err)
		}
	}
}
