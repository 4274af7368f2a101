package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a PostgreSQL server of one test's own, apart from the shared
// one [URL] and [DB] use: for tests of what a program does while its
// database is down, starting, or back. It listens on 127.0.0.1 on a port
// that stays the same across [Server.Stop] and [Server.Start], and its
// data outlives a stop. It is stopped and removed when the test ends.
//
// It needs the server binaries: with TEST_DATABASE_URL or
// TIERFLOW_PGTEST_SKIP=1 set and none installed, the test is skipped.
type Server struct {
	bins binaries
	cred *syscall.Credential
	dir  string
	port int

	mu sync.Mutex
	pm *postmaster // nil while stopped
}

// NewServer creates a server for t (initdb into a temporary directory,
// trust authentication, superuser "postgres") and starts it on a free
// port.
func NewServer(t testing.TB) *Server {
	t.Helper()
	bins, err := findBinaries()
	if err != nil {
		if os.Getenv(EnvURL) != "" || os.Getenv(EnvSkip) == "1" {
			t.Skipf("pgtest: a test of its own server needs the PostgreSQL binaries: %v", err)
		}
		t.Fatal(err)
	}
	s := &Server{bins: bins}
	if s.cred, err = serverUser(); err != nil {
		t.Fatal(err)
	}
	if s.dir, err = makeServerDir(s.cred); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.remove(t))
	if err := s.initdb(); err != nil {
		t.Fatal(err)
	}
	if s.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	s.Start(t)
	return s
}

// initdb creates the server's data directory.
func (s *Server) initdb() error {
	cmd := exec.Command(s.bins.initdb,
		"-D", filepath.Join(s.dir, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Dir = s.dir
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: %s failed: %v\n%s", s.bins.initdb, err, out)
	}
	return nil
}

// Port is the TCP port the server listens on when it runs.
func (s *Server) Port() int { return s.port }

// URL is a connection string for the server's database "postgres" as
// the superuser, without TLS.
func (s *Server) URL() string {
	u := &url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable&connect_timeout=10",
	}
	return u.String()
}

// Start starts the stopped server again on its port and waits until it
// accepts queries. It fails the test if it cannot (the port was taken in
// the meantime, say).
func (s *Server) Start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pm != nil {
		t.Fatal("pgtest: Server.Start: the server is running")
	}
	pm, err := startPostmaster(s.bins, s.dir, s.port, s.cred)
	if err != nil {
		t.Fatal(err)
	}
	s.pm = pm
	db, err := sql.Open("postgres", s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var version string
	if err := pm.waitReady(ctx, db, &version); err != nil {
		t.Fatal(err)
	}
}

// Stop shuts the server down (a fast shutdown: connections are closed,
// the data kept) and waits until its port is free.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pm == nil {
		t.Fatal("pgtest: Server.Stop: the server is not running")
	}
	if err := s.pm.fastShutdown(); err != nil {
		t.Fatal(err)
	}
	s.pm = nil
}

// remove stops the server, if it runs, and removes its directory.
func (s *Server) remove(t testing.TB) func() {
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.pm != nil {
			if err := s.pm.stop(); err != nil { // removes the directory too
				t.Error(err)
			}
			s.pm = nil
			return
		}
		if err := os.RemoveAll(s.dir); err != nil {
			t.Errorf("pgtest: removing %s: %v", s.dir, err)
		}
	}
}

// fastShutdown stops the server with SIGINT, which closes connections
// and writes a checkpoint, and waits for it to exit, killing it if it
// takes longer than stopTimeout. The directory is kept.
func (pm *postmaster) fastShutdown() error {
	_ = pm.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-pm.exited:
		return nil
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-pm.cmd.Process.Pid, syscall.SIGKILL)
		<-pm.exited
		return fmt.Errorf("pgtest: postgres (pid %d) ignored SIGINT for %v; killed it", pm.cmd.Process.Pid, stopTimeout)
	}
}
