package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

func TestTimeText(t *testing.T) {
	t.Parallel()
	times := []time.Time{
		time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 7, 1, 0, 0, 0, 500_000_000, time.UTC),
		time.Date(2024, 7, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(2024, 7, 1, 2, 0, 0, 0, time.FixedZone("CEST", 2*3600)), // the first, in another zone
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC),
	}
	texts := make([]string, len(times))
	for i, tm := range times {
		texts[i] = formatTime(tm)
		back, err := parseTime(texts[i])
		if err != nil || !back.Equal(tm) || back.Location() != time.UTC {
			t.Fatalf("%s -> %q -> %s, %v", tm, texts[i], back, err)
		}
	}
	if texts[0] != "2024-07-01T00:00:00.000000Z" || texts[3] != texts[0] {
		t.Fatalf("stored text %q and %q, want 2024-07-01T00:00:00.000000Z for both", texts[0], texts[3])
	}
	// Text order is time order: min(), max() and ORDER BY work on the text.
	byText := append([]string(nil), texts...)
	sort.Strings(byText)
	byTime := append([]time.Time(nil), times...)
	sort.Slice(byTime, func(i, j int) bool { return byTime[i].Before(byTime[j]) })
	for i := range byText {
		if byText[i] != formatTime(byTime[i]) {
			t.Fatalf("text order %v differs from time order %v", byText, byTime)
		}
	}
	if got := formatTime(time.Date(2024, 7, 1, 0, 0, 0, 999, time.UTC)); got != "2024-07-01T00:00:00.000000Z" {
		t.Fatalf("nanoseconds are kept: %q", got)
	}
	for _, bad := range []string{"", "2024-07-01", "2024-02-30T00:00:00.000000Z", "2024-07-01T00:00:00.00000xZ", "2024-13-01T00:00:00.000000Z"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) succeeded", bad)
		}
	}
	if tm, err := parseTime("2024-07-01T02:00:00+02:00"); err != nil || !tm.Equal(times[0]) {
		t.Fatalf("an RFC 3339 time with an offset: %s, %v", tm, err)
	}
}

func TestColumnType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		decl     string
		typ      rules.Type
		mappable bool
		declared bool
	}{
		{"INTEGER", rules.TypeInteger, true, true},
		{"bigint", rules.TypeInteger, true, true},
		{"UNSIGNED BIG INT", rules.TypeInteger, true, true},
		{"REAL", rules.TypeNumber, true, true},
		{"DOUBLE PRECISION", rules.TypeNumber, true, true},
		{"NUMERIC", rules.TypeNumber, true, true},
		{"DECIMAL(10,2)", rules.TypeNumber, true, true},
		{"TEXT", rules.TypeString, true, true},
		{"VARCHAR(20)", rules.TypeString, true, true},
		{"BOOLEAN", rules.TypeBool, true, true},
		{"DATE", rules.TypeTime, true, true},
		{"DATETIME", rules.TypeTime, true, true},
		{"TIMESTAMP", rules.TypeTime, true, true},
		{"timestamptz", rules.TypeTime, true, true},
		{"BLOB", 0, false, true},
		{"", 0, true, false},
		{"JSON", 0, true, false},
	}
	for _, tt := range tests {
		typ, mappable, declared := columnType(tt.decl)
		if (mappable && typ != tt.typ) || mappable != tt.mappable || declared != tt.declared {
			t.Errorf("columnType(%q) = %v %v %v, want %v %v %v", tt.decl, typ, mappable, declared, tt.typ, tt.mappable, tt.declared)
		}
	}
}

// typesRules reads one fact of every type.
const typesRules = `ruleset: types
key: id
facts:
  active: bool
  joined: time
  score: number
  visits: integer
  name: string
segmentations:
  - name: kind
    segments:
      - name: good
        when: active && score > 1 && visits > 1 && name != "" && days_since(joined) < 1000
      - name: other
        fallback: true
`

func newTestStore(t *testing.T, query string) testStore {
	t.Helper()
	ctx := context.Background()
	s, err := openTest(ctx, Config{Path: filepath.Join(t.TempDir(), "t.db")}, map[string]string{"types": query})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	return s
}

// SQLite's loose types: declared types map to fact types, text columns
// holding dates are times, expressions get the type of their values,
// and values are converted to the declared facts when read (0 and 1 are
// booleans, dates in text are times).
func TestLooseTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rs, err := rules.Compile("types.yaml", []byte(typesRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t, `SELECT id, active, joined, score * 1 AS score, visits, name, picture, note FROM people`)
	for _, q := range []string{
		`CREATE TABLE people (id INTEGER PRIMARY KEY, active BOOLEAN, joined TEXT, score REAL, visits INT, name VARCHAR(20), picture BLOB, note)`,
		`INSERT INTO people VALUES (1, 1, '2024-06-01', 2.5, 3, 'ann', x'00', NULL), (2, 0, '2024-06-02 10:00:00', 3, 1, 'bob', NULL, NULL)`,
	} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	cols, err := s.SourceColumns(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cols {
		got[c.Name] = c.Type.String()
		if !c.Mappable {
			got[c.Name] = "unmappable"
		}
	}
	want := map[string]string{"id": "integer", "active": "bool", "joined": "time", "score": "number", "visits": "integer",
		"name": "string", "picture": "unmappable", "note": "string"}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("column %s: %s, want %s", name, got[name], w)
		}
	}
	if problems, err := s.CheckSource(ctx, rs); err != nil || len(problems) != 0 {
		t.Fatalf("CheckSource: %v, %v", problems, err)
	}
	schema, err := s.SourceSchema(ctx, &rules.RuleSet{Name: "types", Key: "id"})
	if err != nil {
		t.Fatal(err)
	}
	if len(schema.Fields) != 6 {
		t.Fatalf("derived schema %+v: want every mappable column but the key", schema.Fields)
	}

	c, err := s.Customer(ctx, rs, "1")
	if err != nil {
		t.Fatal(err)
	}
	wantFacts := []any{true, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), 2.5, 3, "ann"}
	for i, w := range wantFacts {
		if c.Facts[i] != w {
			t.Fatalf("customer 1's facts %#v, want %#v", c.Facts, wantFacts)
		}
	}
	var res engine.Result
	engine.New(rs).EvaluateInto(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), c, &res)
	if res.Segments[0].Segment != "good" || len(res.Errors) != 0 {
		t.Fatalf("customer 1 evaluates to %+v", res)
	}

	// A fact declared with a type its column's values do not have.
	if _, err := s.DB().Exec(`UPDATE people SET name = 'x', visits = 2.5`); err != nil {
		t.Fatal(err)
	}
	bad, err := rules.Compile("types.yaml", []byte(`ruleset: types
key: id
facts:
  visits: integer
  name: time
segmentations:
  - name: kind
    segments:
      - name: all
        fallback: true
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	problems, err := s.CheckSource(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 2 || !strings.Contains(problems[0], `fact "visits" is declared integer`) || !strings.Contains(problems[1], `fact "name" is declared time`) {
		t.Fatalf("CheckSource of mismatched facts: %q", problems)
	}
}

// The read transaction of snapshots, facts and state reads refuses to
// write, whatever is asked of it.
func TestSnapshotCannotWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t, `SELECT 1 AS id`)
	tx, err := Dialect.BeginRead(ctx, s.ro.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`INSERT INTO runs (ruleset, rules_hash, as_of, status, started_at) VALUES ('x', 'x', 'x', 'running', 'x')`,
		`DELETE FROM customer_state`,
		`CREATE TABLE x (y)`,
		`CREATE TEMP TABLE x (y)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Fatalf("%s in a snapshot: %v, want a read-only error", q, err)
		}
	}
}

// Until it commits, an apply holds no lock on the database: other
// connections write at once. Its commit waits for another writer (up to
// the busy timeout), and one that cannot get the write lock fails and
// changes nothing.
func TestApplyAndOtherWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rs, err := rules.Compile("types.yaml", []byte(typesRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "t.db")
	open := func(busy time.Duration) testStore {
		s, err := openTest(ctx, Config{Path: path, BusyTimeout: busy}, map[string]string{"types": "people"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open(5 * time.Second)
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`CREATE TABLE people (id INTEGER PRIMARY KEY, active BOOLEAN, joined TEXT, score REAL, visits INT, name TEXT);
		INSERT INTO people VALUES (1, 1, '2024-06-01', 2.5, 3, 'ann'), (2, 0, '2024-06-01', 2.5, 3, 'bob')`); err != nil {
		t.Fatal(err)
	}
	other := open(50 * time.Millisecond) // fails fast if anyone holds the write lock
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	// staged begins an apply on st and stages every customer.
	staged := func(st testStore) jobs.ApplyTx {
		t.Helper()
		tx, err := st.BeginApply(ctx, rs, jobs.RunInfo{RuleSet: "types", AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := jobs.OpenSnapshot(ctx, st.Store, st.facts(), rs, jobs.At(asOf))
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		eng := engine.New(rs)
		err = snap.Stream(ctx, 10, func(cs []engine.Customer) error {
			var batch []jobs.Evaluated
			for i := range cs {
				var res engine.Result
				eng.EvaluateInto(asOf, &cs[i], &res)
				batch = append(batch, jobs.Evaluated{Customer: &cs[i], Result: &res})
			}
			return tx.Stage(ctx, batch)
		})
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	// hold takes the write lock on a connection of its own for d.
	hold := func(d time.Duration) {
		t.Helper()
		conn, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(d, func() {
			conn.ExecContext(context.Background(), `ROLLBACK`) //nolint:errcheck
			conn.Close()
		})
	}
	segments := func() string {
		t.Helper()
		var got *string
		if err := s.DB().QueryRow(`SELECT group_concat(customer_key || ':' || segment) FROM assignments`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == nil {
			return ""
		}
		return *got
	}

	// Staged but not committed: nothing is locked.
	tx := staged(s)
	if _, err := other.StartRun(ctx, jobs.RunInfo{RuleSet: "x", AsOf: asOf, Started: asOf}, "apply"); err != nil {
		t.Fatalf("a write while an apply has staged changes: %v", err)
	}
	// A writer holds the lock for a while: the commit waits for it.
	hold(300 * time.Millisecond)
	start := time.Now()
	if err := tx.Commit(ctx, jobs.RunSummary{Status: jobs.StatusSucceeded}); err != nil {
		t.Fatalf("commit while another writer holds the lock for 300ms: %v", err)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("the commit took %v: it did not wait for the writer", took)
	}
	if got := segments(); got != "1:good,2:other" {
		t.Fatalf("assignments after the commit: %q", got)
	}

	// One that holds it longer than the busy timeout fails the commit.
	if _, err := s.DB().Exec(`UPDATE people SET active = 1`); err != nil {
		t.Fatal(err)
	}
	tx = staged(other)
	hold(time.Second)
	if err := tx.Commit(ctx, jobs.RunSummary{Status: jobs.StatusSucceeded}); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("commit that cannot get the write lock: %v, want an error saying the database is locked", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := segments(); got != "1:good,2:other" {
		t.Fatalf("assignments after the failed commit: %q", got)
	}
	// The lock is free again, and the connection clean.
	time.Sleep(time.Second)
	if err := staged(other).Commit(ctx, jobs.RunSummary{Status: jobs.StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if got := segments(); got != "1:good,2:good" {
		t.Fatalf("assignments after the last commit: %q", got)
	}
}

// The lock is per rule set and per file; it excludes a second apply in
// the same store too, and is free again after rollback or commit.
func TestApplyLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t, `SELECT 1 AS id`)
	a := &rules.RuleSet{Name: "types", Key: "id"}
	b := &rules.RuleSet{Name: "other", Key: "id"}
	tx, err := s.BeginApply(ctx, a, jobs.RunInfo{RuleSet: "types"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path() + "-lock-types"); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	if _, err := s.BeginApply(ctx, a, jobs.RunInfo{RuleSet: "types"}); !errors.Is(err, jobs.ErrLocked) {
		t.Fatalf("a second apply of the rule set: %v, want ErrLocked", err)
	}
	txb, err := s.BeginApply(ctx, b, jobs.RunInfo{RuleSet: "other"})
	if err != nil {
		t.Fatalf("an apply of another rule set: %v", err)
	}
	txb.Rollback()
	tx.Rollback()
	tx, err = s.BeginApply(ctx, a, jobs.RunInfo{RuleSet: "types"})
	if err != nil {
		t.Fatalf("apply after rollback: %v", err)
	}
	tx.Rollback()
	if got := s.lockPath("Ünïcode/../x"); filepath.Dir(got) != filepath.Dir(s.Path()) || strings.Contains(filepath.Base(got), "/") {
		t.Fatalf("lock path of an odd name: %s", got)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := Open(ctx, Config{}); err == nil {
		t.Fatal("Open without a path succeeded")
	}
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "t.db")
	if _, err := Open(ctx, Config{Path: missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Open in a missing directory: %v, want an error naming the file", err)
	}
	dir := filepath.Join(t.TempDir(), "odd ?dir#")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{Path: filepath.Join(dir, "t.db")})
	if err != nil {
		t.Fatalf("a path with URI characters: %v", err)
	}
	defer s.Close()
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v; want wal", mode, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "t.db")); err != nil {
		t.Fatalf("the database is not where it was asked for: %v", err)
	}
	if s.Redact("path "+s.Path()) != "path "+s.Path() {
		t.Fatal("Redact changed a text with no secret")
	}
}

// The fast paths for dates read text as rules.ParseTime does.
func TestFactTimes(t *testing.T) {
	t.Parallel()
	f := rules.Field{Name: "d", Type: rules.TypeTime}
	for _, s := range []string{"2024-06-30", "2024-06-30T00:00:00.000000Z", "2024-06-30T10:11:12.123456Z", "2024-06-30 10:11:12",
		"2024-06-30T10:11:12+02:00", "2024-02-30", "2024-6-30", "20240630", "x"} {
		got, gotErr := factValue(f, s)
		want, wantErr := f.Coerce(s)
		if (gotErr == nil) != (wantErr == nil) || (gotErr == nil && !got.(time.Time).Equal(want.(time.Time))) {
			t.Errorf("%q: read %v (%v), rules.Field.Coerce %v (%v)", s, got, gotErr, want, wantErr)
		}
		if gotErr == nil && got.(time.Time).Location() != time.UTC {
			t.Errorf("%q: read %v, not in UTC", s, got)
		}
	}
}

// The SQLite schema keeps the PostgreSQL store's version numbers and
// names, so that `tierflow migrate` reports both alike.
func TestMigrationsMatchPostgres(t *testing.T) {
	t.Parallel()
	sq, pg := Migrations(), postgres.Migrations()
	if len(sq) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones: add the missing one to jobs/sqlite/migrations", len(sq), len(pg))
	}
	for i := range sq {
		if sq[i].Version != pg[i].Version || sq[i].Name != pg[i].Name {
			t.Errorf("migration %d: SQLite %d %s, PostgreSQL %d %s", i, sq[i].Version, sq[i].Name, pg[i].Version, pg[i].Name)
		}
	}
}
