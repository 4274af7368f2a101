package pgtest

import (
	"database/sql"
	"errors"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
)

// A Server of a test's own keeps its port and its data across a stop and
// a start, refuses connections while stopped, and is gone after the test.
func TestServerStopStart(t *testing.T) {
	t.Parallel()
	var dir string
	t.Run("server", func(t *testing.T) {
		s := NewServer(t)
		dir = s.dir
		exec := func(q string) error {
			db, err := sql.Open("postgres", s.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_, err = db.Exec(q)
			return err
		}
		if err := exec("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)"); err != nil {
			t.Fatal(err)
		}
		s.Stop(t)
		_, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())))
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("a stopped server's port: %v, want connection refused", err)
		}
		s.Start(t)
		db, err := sql.Open("postgres", s.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow("SELECT n FROM kept").Scan(&n); err != nil || n != 7 {
			t.Fatalf("after a restart: n = %d, %v; want 7", n, err)
		}
	})
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the server's directory %s is left after the test: %v", dir, err)
	}
}
