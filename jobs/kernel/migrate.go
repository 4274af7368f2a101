package kernel

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migration is one embedded, versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// MigrationStatus is the schema's state in the database.
type MigrationStatus struct {
	Current int
	Latest  int
	Pending []Migration
}

// ReadMigrations reads NNNN_name.sql files from the migrations directory
// of an embedded file system, in version order. A bad file name is a build
// mistake, so it panics.
func ReadMigrations(fsys fs.FS) []Migration {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		panic(err) // embedded at build time; cannot fail
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("bad migration file name " + name)
		}
		src, _ := fs.ReadFile(fsys, "migrations/"+name)
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(src)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// LatestVersion is the newest version among all.
func LatestVersion(all []Migration) int { return all[len(all)-1].Version }

// NewMigrationStatus is the status of a schema at version current, given
// every migration of the build.
func NewMigrationStatus(current int, all []Migration) *MigrationStatus {
	st := &MigrationStatus{Current: current, Latest: LatestVersion(all)}
	for _, m := range all {
		if m.Version > current {
			st.Pending = append(st.Pending, m)
		}
	}
	return st
}

// Check returns ErrSchemaOutdated unless the schema is at the latest
// version; where names the schema or file in the message.
func (st *MigrationStatus) Check(where string) error {
	if st.Current != st.Latest {
		return &ErrSchemaOutdated{Schema: where, Current: st.Current, Latest: st.Latest}
	}
	return nil
}

// ErrSchemaOutdated is returned when the state schema needs `tierflow migrate`.
type ErrSchemaOutdated struct {
	Schema          string
	Current, Latest int
}

func (e *ErrSchemaOutdated) Error() string {
	if e.Current == 0 {
		return fmt.Sprintf("tierflow's state schema %q does not exist yet: run `tierflow migrate` first", e.Schema)
	}
	if e.Current > e.Latest {
		return fmt.Sprintf("state schema %q is at version %d, newer than this tierflow (%d): upgrade tierflow", e.Schema, e.Current, e.Latest)
	}
	return fmt.Sprintf("state schema %q is at version %d but this tierflow needs %d: run `tierflow migrate`", e.Schema, e.Current, e.Latest)
}
