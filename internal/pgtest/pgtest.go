package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

// EnvURL names the environment variable that points tests at an existing
// PostgreSQL server instead of a throwaway one started by this package.
const EnvURL = "TEST_DATABASE_URL"

// EnvSkip names the environment variable that, when set to "1" and [EnvURL]
// is unset, makes [URL] and [DB] skip the calling test instead of starting a
// server. It is meant for developers without PostgreSQL; CI never sets it.
const EnvSkip = "TIERFLOW_PGTEST_SKIP"

const (
	dirPrefix     = "tierflow-pgtest-"
	ownerFile     = "owner.pid" // pid of the test binary that owns a server directory
	startTimeout  = 60 * time.Second
	stopTimeout   = 15 * time.Second
	sqlTimeout    = 2 * time.Minute
	maxSocketPath = 107 // sizeof(sockaddr_un.sun_path) - 1 on Linux
)

var (
	mainCalled atomic.Bool
	dbSeq      atomic.Uint64

	stateMu  sync.Mutex // guards the variables below
	srv      *server
	srvErr   error
	shutDown bool
)

// server is either an external server (TEST_DATABASE_URL) or a local one
// started by this package (proc != nil).
type server struct {
	admin   *sql.DB
	connStr string // how admin connects; per-test strings are derived from it
	isURL   bool   // connStr is a URL rather than key=value pairs
	proc    *postmaster
	started time.Duration // how long the local server took to start
	version string
}

// Main runs the tests of a package and then stops the PostgreSQL server (if
// one was started) and removes its files, and exits with the tests' status.
// Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// [URL] and [DB] fail the test if Main is not running, because without it the
// server's directory would be left behind.
func Main(m *testing.M) {
	mainCalled.Store(true)

	// Ctrl-C or a SIGTERM would otherwise kill the test binary without
	// cleaning up. The server is in its own process group, so it does not see
	// terminal signals itself.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			fmt.Fprintf(os.Stderr, "pgtest: got %v, stopping PostgreSQL\n", sig)
			if err := shutdown(); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			}
			os.Exit(1)
		case <-done:
		}
	}()

	code := m.Run()

	signal.Stop(sigs)
	close(done)
	if err := shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// URL creates a new, empty database for the test and returns a connection
// string for it, suitable for sql.Open("postgres", ...) with lib/pq. The
// database is dropped (even if connections to it are still open) when the
// test and its subtests have finished.
//
// The first call in a test binary starts the PostgreSQL server unless
// TEST_DATABASE_URL is set; for a local server the result looks like
// "postgres://postgres@127.0.0.1:PORT/pgtest_testname_1_5f3a9c01?sslmode=disable"
// and the role is the superuser "postgres". With TEST_DATABASE_URL the
// result is that URL (or key=value string) with the database name replaced.
//
// URL fails the test if the server cannot be started or reached, and skips it
// only when TIERFLOW_PGTEST_SKIP=1 and TEST_DATABASE_URL is unset.
func URL(t testing.TB) string {
	t.Helper()
	if os.Getenv(EnvURL) == "" && os.Getenv(EnvSkip) == "1" {
		t.Skipf("pgtest: %s=1 and %s is unset: skipping test that needs PostgreSQL", EnvSkip, EnvURL)
	}
	if !mainCalled.Load() {
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main(m): " +
			"func TestMain(m *testing.M) { pgtest.Main(m) }")
	}
	s, startedNow, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if startedNow && s.proc != nil {
		short, _, _ := strings.Cut(s.version, " on ")
		t.Logf("pgtest: started %s on 127.0.0.1:%d in %v (dir %s)",
			short, s.proc.port, s.started.Round(time.Millisecond), s.proc.dir)
	}

	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), sqlTimeout)
	defer cancel()
	// template0 guarantees an empty database even if template1 was modified
	// on a shared server.
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := s.dropDatabase(name); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return s.connString(name)
}

// DB creates a new, empty database for the test like [URL] and returns an
// open handle to it. The handle is closed, and then the database dropped,
// when the test finishes.
func DB(t testing.TB) *sql.DB {
	t.Helper()
	u := URL(t)
	db, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatalf("pgtest: opening %s: %v", u, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), sqlTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", u, err)
	}
	return db
}

// get returns the process-wide server, starting it on first use. startedNow
// reports whether this call started it.
func get() (s *server, startedNow bool, err error) {
	stateMu.Lock()
	defer stateMu.Unlock()
	if shutDown {
		return nil, false, errors.New("pgtest: the PostgreSQL server has already been shut down")
	}
	if srv != nil || srvErr != nil {
		return srv, false, srvErr
	}
	if ext := os.Getenv(EnvURL); ext != "" {
		srv, srvErr = openExternal(ext)
	} else {
		srv, srvErr = startLocal()
	}
	return srv, srvErr == nil, srvErr
}

// shutdown closes the admin connection, stops the local server and removes
// its directory. It is safe to call more than once.
func shutdown() error {
	stateMu.Lock()
	defer stateMu.Unlock()
	shutDown = true
	s := srv
	srv = nil
	if s == nil {
		return nil
	}
	var errs []error
	if err := s.admin.Close(); err != nil {
		errs = append(errs, err)
	}
	if s.proc != nil {
		errs = append(errs, s.proc.stop())
	}
	return errors.Join(errs...)
}

func openExternal(connStr string) (*server, error) {
	s := &server{connStr: connStr, isURL: strings.Contains(connStr, "://")}
	if s.isURL {
		if _, err := url.Parse(connStr); err != nil {
			return nil, fmt.Errorf("pgtest: %s is not a valid URL: %v", EnvURL, err)
		}
	}
	db, err := sql.Open("postgres", connStr)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %s: %v", EnvURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.QueryRowContext(ctx, "SELECT version()").Scan(&s.version); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pgtest: cannot connect to the server in %s: %v", EnvURL, err)
	}
	s.admin = db
	return s, nil
}

// connString returns the connection string for database name.
func (s *server) connString(name string) string {
	if !s.isURL {
		// lib/pq lets later key=value pairs override earlier ones.
		return s.connStr + " dbname=" + name
	}
	u, _ := url.Parse(s.connStr) // validated in openExternal / built by us
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

func (s *server) dropDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), sqlTimeout)
	defer cancel()
	q := pq.QuoteIdentifier(name)
	_, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+q+" WITH (FORCE)")
	if pq.As(err, "42601") == nil { // anything but a syntax error: PostgreSQL >= 13
		return err
	}
	// PostgreSQL < 13 has no WITH (FORCE).
	if _, err := s.admin.ExecContext(ctx,
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		return err
	}
	_, err = s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+q)
	return err
}

// dbName turns a test name into a unique, valid, lower-case database name of
// at most 63 bytes (PostgreSQL's NAMEDATALEN-1).
func dbName(testName string) string {
	const prefix = "pgtest_"
	suffix := fmt.Sprintf("_%d_%08x", dbSeq.Add(1), rand.Uint32())
	var b strings.Builder
	lastUnderscore := true
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			lastUnderscore = false
		} else if !lastUnderscore {
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	mid := strings.Trim(b.String(), "_")
	if room := 63 - len(prefix) - len(suffix); len(mid) > room {
		mid = strings.TrimRight(mid[:room], "_")
	}
	return prefix + mid + suffix
}

// ---------------------------------------------------------------------------
// Local server.

// binaries holds the location of the PostgreSQL server programs.
type binaries struct {
	initdb, postgres string
}

// postmaster is a running local PostgreSQL server.
type postmaster struct {
	dir     string // temp dir: data/, server.log, owner.pid, unix socket
	port    int
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	waitErr error         // valid after exited is closed
	logPath string
}

func notFoundError() error {
	return fmt.Errorf(`pgtest: PostgreSQL server binaries (initdb, postgres) not found in $PATH or /usr/lib/postgresql/*/bin.
Tests that need PostgreSQL start a throwaway server; to make that possible do one of:
  - install the server: apt-get install postgresql-15   (or: apt-get install postgresql)
  - point the tests at an existing server: %s=postgres://user:password@host:5432/postgres?sslmode=disable
    (the role needs the CREATEDB privilege)
  - skip database tests on this machine only: %s=1   (never in CI)
scripts/test.sh installs the server automatically when run as root on Debian/Ubuntu`, EnvURL, EnvSkip)
}

// findBinaries looks for initdb and postgres in the same directory: first
// next to an initdb in $PATH, then in /usr/lib/postgresql/*/bin, newest
// major version first.
func findBinaries() (binaries, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(resolved))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = append(dirs, sortVersionDirs(versioned)...)
	for _, d := range dirs {
		b := binaries{initdb: filepath.Join(d, "initdb"), postgres: filepath.Join(d, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b, nil
		}
	}
	return binaries{}, notFoundError()
}

// sortVersionDirs sorts directories like /usr/lib/postgresql/VERSION/bin by
// VERSION, newest first (so 15 before 9.6).
func sortVersionDirs(dirs []string) []string {
	version := func(d string) []int {
		var v []int
		for _, part := range strings.Split(filepath.Base(filepath.Dir(d)), ".") {
			n, err := strconv.Atoi(part)
			if err != nil {
				return nil
			}
			v = append(v, n)
		}
		return v
	}
	out := slices.Clone(dirs)
	slices.SortStableFunc(out, func(a, b string) int { return slices.Compare(version(b), version(a)) })
	return out
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// serverUser returns the credentials to run PostgreSQL with: nil (the current
// user) unless we are root, in which case the "postgres" system user.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, but PostgreSQL refuses to run as root and there is no "+
			"\"postgres\" system user to run it as (%v). Install the postgresql package, which creates it, "+
			"or create it with: useradd --system --user-group --home-dir /var/lib/postgresql postgres", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgtest: unexpected uid/gid %q/%q for user postgres", u.Uid, u.Gid)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if n, err := strconv.ParseUint(id, 10, 32); err == nil && n != gid {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return cred, nil
}

func startLocal() (*server, error) {
	begin := time.Now()
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	sweepStale()
	dir, err := makeServerDir(cred)
	if err != nil {
		return nil, err
	}
	cleanupDir := true
	defer func() {
		if cleanupDir {
			_ = os.RemoveAll(dir)
		}
	}()

	dataDir := filepath.Join(dir, "data")
	initdb := exec.Command(bins.initdb,
		"-D", dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = childEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgtest: %s failed: %v\n%s", bins.initdb, err, out)
	}

	var pm *postmaster
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		pm, err = startPostmaster(bins, dir, port, cred)
		if err == nil {
			break
		}
		// Another process may have grabbed the port between freePort and
		// postgres binding it; try another one.
		if attempt >= 3 || !strings.Contains(err.Error(), "could not bind") {
			return nil, err
		}
	}

	u := &url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(pm.port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable&connect_timeout=10",
	}
	s := &server{connStr: u.String(), isURL: true, proc: pm}
	s.admin, err = sql.Open("postgres", s.connStr)
	if err == nil {
		s.admin.SetMaxOpenConns(8)
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		err = pm.waitReady(ctx, s.admin, &s.version)
		cancel()
	}
	if err != nil {
		if s.admin != nil {
			_ = s.admin.Close()
		}
		_ = pm.stop()
		return nil, err
	}
	s.started = time.Since(begin)
	cleanupDir = false
	return s, nil
}

// makeServerDir creates the directory for a new server and makes it usable
// by the server's user: owned by it, and reachable through parents it can
// traverse. It tries $TMPDIR first and then /tmp.
func makeServerDir(cred *syscall.Credential) (string, error) {
	var problems []string
	for _, base := range uniqueTempBases() {
		dir, err := os.MkdirTemp(base, dirPrefix)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		err = prepareServerDir(dir, cred)
		if err == nil {
			return dir, nil
		}
		_ = os.RemoveAll(dir)
		problems = append(problems, err.Error())
	}
	return "", fmt.Errorf("pgtest: no usable temporary directory for the PostgreSQL server:\n  %s",
		strings.Join(problems, "\n  "))
}

func prepareServerDir(dir string, cred *syscall.Credential) error {
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	if n := len(filepath.Join(dir, ".s.PGSQL.65535")); n > maxSocketPath {
		return fmt.Errorf("%s: path too long for a unix socket (%d > %d bytes)", dir, n, maxSocketPath)
	}
	if cred == nil {
		return nil
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return err
	}
	return checkTraversable(filepath.Dir(dir), cred)
}

func uniqueTempBases() []string {
	bases := []string{os.TempDir()}
	if bases[0] != "/tmp" {
		bases = append(bases, "/tmp")
	}
	return bases
}

// checkTraversable reports an error if the user in cred cannot search
// (execute) dir and all of its parents.
func checkTraversable(dir string, cred *syscall.Credential) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := fi.Mode().Perm()
		var can bool
		switch {
		case st.Uid == cred.Uid:
			can = perm&0o100 != 0
		case st.Gid == cred.Gid || slices.Contains(cred.Groups, st.Gid):
			can = perm&0o010 != 0
		default:
			can = perm&0o001 != 0
		}
		if !can {
			return fmt.Errorf("%s (mode %v, owner %d:%d) is not searchable by uid %d, the PostgreSQL server's user",
				p, perm, st.Uid, st.Gid, cred.Uid)
		}
		if parent := filepath.Dir(p); parent == p {
			return nil
		}
	}
}

// childEnv is the environment for initdb and postgres: ours without PG*
// variables, which could redirect them (PGDATA, PGPORT, ...).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_ALL=C")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startPostmaster(bins binaries, dir string, port int, cred *syscall.Credential) (*postmaster, error) {
	pm := &postmaster{
		dir:     dir,
		port:    port,
		exited:  make(chan struct{}),
		logPath: filepath.Join(dir, "server.log"),
	}
	logFile, err := os.OpenFile(pm.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own copy
	pm.cmd = exec.Command(bins.postgres,
		"-D", filepath.Join(dir, "data"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories="+dir,
		// Durability is pointless for a throwaway server.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "wal_level=minimal",
		"-c", "max_wal_senders=0",
		"-c", "max_wal_size=1GB",
		"-c", "checkpoint_timeout=30min",
		"-c", "max_connections=200",
		"-c", "logging_collector=off",
	)
	pm.cmd.Dir = dir
	pm.cmd.Env = childEnv()
	pm.cmd.Stdout = logFile
	pm.cmd.Stderr = logFile
	pm.cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Keep terminal signals (Ctrl-C) away from the server; Main stops it.
		Setpgid: true,
		// If the test binary dies without cleaning up, the kernel sends the
		// server an immediate-shutdown signal.
		Pdeathsig: syscall.SIGQUIT,
	}

	// Pdeathsig fires when the *thread* that started the child exits, and
	// the Go runtime may retire idle threads. Start the child from a
	// goroutine locked to its thread, which lives until the child exits.
	startErr := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := pm.cmd.Start(); err != nil {
			startErr <- err
			return // exiting a locked goroutine retires its thread; fine here
		}
		startErr <- nil
		pm.waitErr = pm.cmd.Wait()
		close(pm.exited)
	}()
	if err := <-startErr; err != nil {
		return nil, fmt.Errorf("pgtest: starting %s: %v", bins.postgres, err)
	}

	// Wait until the postmaster either listens or exits (e.g. port taken).
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-pm.exited:
			return nil, fmt.Errorf("pgtest: postgres exited during startup (%v); server log:\n%s", pm.waitErr, pm.logTail())
		default:
		}
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			_ = c.Close()
			return pm, nil
		}
		if time.Now().After(deadline) {
			_ = pm.stop()
			return nil, fmt.Errorf("pgtest: postgres did not listen on port %d within %v; server log:\n%s",
				port, startTimeout, pm.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReady waits until the server accepts queries (it listens before it
// has finished recovery/startup) and stores its version string.
func (pm *postmaster) waitReady(ctx context.Context, db *sql.DB, version *string) error {
	for {
		err := db.QueryRowContext(ctx, "SELECT version()").Scan(version)
		if err == nil {
			return nil
		}
		select {
		case <-pm.exited:
			return fmt.Errorf("pgtest: postgres exited during startup (%v); server log:\n%s", pm.waitErr, pm.logTail())
		case <-ctx.Done():
			return fmt.Errorf("pgtest: postgres on port %d not ready: %v; server log:\n%s", pm.port, err, pm.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop shuts the server down (immediate shutdown: the data is thrown away
// anyway) and removes its directory.
func (pm *postmaster) stop() error {
	var errs []error
	select {
	case <-pm.exited:
	default:
		_ = pm.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-pm.exited:
		case <-time.After(stopTimeout):
			errs = append(errs, fmt.Errorf("pgtest: postgres (pid %d) ignored SIGQUIT for %v; killing it", pm.cmd.Process.Pid, stopTimeout))
			_ = syscall.Kill(-pm.cmd.Process.Pid, syscall.SIGKILL) // whole process group
			<-pm.exited
		}
	}
	if err := os.RemoveAll(pm.dir); err != nil {
		errs = append(errs, fmt.Errorf("pgtest: removing %s: %v", pm.dir, err))
	}
	return errors.Join(errs...)
}

func (pm *postmaster) logTail() string {
	b, err := os.ReadFile(pm.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// sweepStale removes server directories left behind by test binaries that
// died without cleaning up, stopping their server first if it still runs.
func sweepStale() {
	for _, base := range uniqueTempBases() {
		dirs, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
		for _, dir := range dirs {
			if isStale(dir) {
				killServerIn(dir)
				_ = os.RemoveAll(dir)
			}
		}
	}
}

func isStale(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		// Owner file not written yet, or never: only stale if old.
		fi, err := os.Stat(dir)
		return err == nil && time.Since(fi.ModTime()) > time.Hour
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err != nil || pid <= 0 || !processAlive(pid)
}

// processAlive reports whether pid is a running process. Zombies count as
// dead: in containers whose init does not reap orphans they linger.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// Format: "pid (comm) state ..."; comm may contain spaces and parens.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// killServerIn stops a postmaster whose data directory is dir/data, if it is
// still running (normally Pdeathsig has already stopped it).
func killServerIn(dir string) {
	dataDir := filepath.Join(dir, "data")
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return
	}
	// Make sure the pid still belongs to that server and was not reused.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(dataDir)) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	for i := 0; i < 100 && processAlive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if processAlive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
