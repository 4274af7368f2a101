package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs/sqlite"
)

// With MustExist, Open of a missing file says to migrate and creates
// nothing; without it (tierflow migrate), Open creates the file.
func TestOpenMustExist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tierflow.db")
	_, err := sqlite.Open(ctx, sqlite.Config{Path: path, MustExist: true})
	if !errors.Is(err, sqlite.ErrNoDatabase) || !strings.Contains(err.Error(), "run `tierflow migrate` first") {
		t.Fatalf("open of a missing file: %v; want ErrNoDatabase saying to migrate", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed open left %s behind: %v", path, err)
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The file exists but holds no schema: every read says to migrate.
	s, err = sqlite.Open(ctx, sqlite.Config{Path: path, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for what, read := range map[string]func() error{
		"runs":    func() error { _, err := s.Runs(ctx, "", 10); return err },
		"history": func() error { _, err := s.History(ctx, "", "1"); return err },
		"report":  func() error { _, _, _, err := s.RunReport(ctx, 1); return err },
		"last":    func() error { _, _, err := s.LastSucceeded(ctx, "retail"); return err },
	} {
		if err := read(); err == nil || !strings.Contains(err.Error(), "tierflow migrate") {
			t.Errorf("%s before migrate: %v; want the migrate hint", what, err)
		}
	}
}
