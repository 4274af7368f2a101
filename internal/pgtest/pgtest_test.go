package pgtest

import (
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/lib/pq"
)

func TestMain(m *testing.M) { Main(m) }

func open(t *testing.T, connStr string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", connStr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPgVersion(t *testing.T) {
	t.Parallel()
	u := URL(t)
	db := open(t, u)
	var version, current string
	if err := db.QueryRow("SELECT version(), current_database()").Scan(&version, &current); err != nil {
		t.Fatalf("SELECT version(): %v", err)
	}
	if !strings.HasPrefix(version, "PostgreSQL ") {
		t.Errorf("version() = %q, want PostgreSQL ...", version)
	}
	if !strings.HasPrefix(current, "pgtest_testpgversion_") {
		t.Errorf("current_database() = %q, want a per-test database named after the test", current)
	}
	t.Logf("%s, database %s", version, current)
}

func TestPgIsolation(t *testing.T) {
	t.Parallel()
	urlA, urlB := URL(t), URL(t)
	if urlA == urlB {
		t.Fatalf("two URL calls returned the same database: %s", urlA)
	}
	a, b := open(t, urlA), open(t, urlB)
	if _, err := a.Exec(`CREATE TABLE widgets (id int PRIMARY KEY); INSERT INTO widgets VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := a.QueryRow(`SELECT count(*) FROM widgets`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count in A = %d, %v; want 1, nil", n, err)
	}
	var reg sql.NullString
	if err := b.QueryRow(`SELECT to_regclass('public.widgets')::text`).Scan(&reg); err != nil {
		t.Fatal(err)
	}
	if reg.Valid {
		t.Errorf("table created in database A is visible in database B as %s", reg.String)
	}
	// A fresh database has no user tables at all.
	if err := b.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database B has %d user tables, want 0", n)
	}
}

func TestPgDropOnCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("inner", func(t *testing.T) {
		db := DB(t)
		if err := db.QueryRow("SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		// Leave a connection open on purpose: the drop must still work.
		conn, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn
	})
	s, _, err := get()
	if err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := s.admin.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test finished", name)
	}
}

func TestPgParallel(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			db := DB(t)
			if _, err := db.Exec(`CREATE TABLE t (v int)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`INSERT INTO t VALUES ($1)`, i); err != nil {
				t.Fatal(err)
			}
			var v int
			var name string
			if err := db.QueryRow(`SELECT v, current_database() FROM t`).Scan(&v, &name); err != nil || v != i {
				t.Fatalf("got %d, %v; want %d", v, err, i)
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[name] {
				t.Errorf("database %s handed out twice", name)
			}
			seen[name] = true
		})
	}
}

func TestPgLocalServerSettings(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skipf("%s is set: not using a local server", EnvURL)
	}
	t.Parallel()
	db := DB(t)
	want := map[string]string{
		"fsync":              "off",
		"synchronous_commit": "off",
		"full_page_writes":   "off",
		"listen_addresses":   "127.0.0.1",
	}
	for setting, value := range want {
		var got string
		if err := db.QueryRow("SELECT current_setting($1)", setting).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != value {
			t.Errorf("%s = %q, want %q", setting, got, value)
		}
	}
	var super bool
	if err := db.QueryRow("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || !super {
		t.Errorf("connected role is superuser = %v, %v; want true", super, err)
	}
	s, _, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if s.proc == nil {
		t.Fatal("no local server process")
	}
	if _, err := os.Stat(s.proc.dir); err != nil {
		t.Errorf("server dir: %v", err)
	}
	var dataDir string
	if err := db.QueryRow("SELECT current_setting('data_directory')").Scan(&dataDir); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dataDir, s.proc.dir) {
		t.Errorf("data_directory = %s, want it inside %s", dataDir, s.proc.dir)
	}
}

func TestPgDBName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	names := []string{
		"TestX",
		"TestX/sub case #1",
		strings.Repeat("TestVeryLongName/", 20),
		"Test/ü/€/../;DROP DATABASE x;--",
		"",
	}
	seen := map[string]bool{}
	for _, n := range names {
		got := dbName(n)
		if !valid.MatchString(got) || !strings.HasPrefix(got, "pgtest_") {
			t.Errorf("dbName(%q) = %q: not a safe database name", n, got)
		}
		if seen[got] {
			t.Errorf("dbName(%q) = %q repeats", n, got)
		}
		seen[got] = true
	}
	if got := dbName("TestX/sub case #1"); !strings.HasPrefix(got, "pgtest_testx_sub_case_1_") {
		t.Errorf("dbName kept too little of the test name: %q", got)
	}
}

func TestPgSortVersionDirs(t *testing.T) {
	in := []string{
		"/usr/lib/postgresql/9.6/bin",
		"/usr/lib/postgresql/15/bin",
		"/usr/lib/postgresql/odd/bin",
		"/usr/lib/postgresql/10/bin",
		"/usr/lib/postgresql/17/bin",
	}
	got := sortVersionDirs(in)
	want := []string{
		"/usr/lib/postgresql/17/bin",
		"/usr/lib/postgresql/15/bin",
		"/usr/lib/postgresql/10/bin",
		"/usr/lib/postgresql/9.6/bin",
		"/usr/lib/postgresql/odd/bin",
	}
	if !slices.Equal(got, want) {
		t.Errorf("sortVersionDirs = %v, want %v", got, want)
	}
}

func TestPgConnStringExternal(t *testing.T) {
	s := &server{connStr: "postgres://u:p%40ss@db.example:5433/main?sslmode=require", isURL: true}
	if got, want := s.connString("pgtest_x_1"), "postgres://u:p%40ss@db.example:5433/pgtest_x_1?sslmode=require"; got != want {
		t.Errorf("connString = %q, want %q", got, want)
	}
	s = &server{connStr: "host=db.example user=u dbname=main"}
	if got, want := s.connString("pgtest_x_1"), "host=db.example user=u dbname=main dbname=pgtest_x_1"; got != want {
		t.Errorf("connString = %q, want %q", got, want)
	}
}

func TestPgNotFoundMessage(t *testing.T) {
	msg := notFoundError().Error()
	for _, want := range []string{"apt-get install postgresql-15", EnvURL, EnvSkip} {
		if !strings.Contains(msg, want) {
			t.Errorf("not-found message lacks %q:\n%s", want, msg)
		}
	}
}
