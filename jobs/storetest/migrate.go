package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

var migrateCases = []testCase{
	{"unmigrated database refused, nothing created", testUnmigrated},
	{"outdated schema refused until migrate", testOutdatedSchema},
	{"migrate twice changes nothing", testMigrateTwice},
	{"concurrent migrates apply each version once", testConcurrentMigrates},
}

// Plan and apply refuse an un-migrated database and say what to do,
// creating none of tierflow's tables.
func testUnmigrated(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newBareEnv(t, nb)
	CreateFacts(t, e.s, e.b.FactsDDL, 20)
	rs := RetailRuleSet(t)
	if _, err := jobs.Plan(ctx, e.s, e.f, rs, Options()); err == nil || !strings.Contains(err.Error(), "run `tierflow migrate`") {
		t.Fatalf("plan on an un-migrated database: %v", err)
	}
	if _, err := jobs.Apply(ctx, e.s, e.f, rs, Options()); err == nil || !strings.Contains(err.Error(), "run `tierflow migrate`") {
		t.Fatalf("apply on an un-migrated database: %v", err)
	}
	for _, table := range append(stateTables, "runs", "slots", "schema_migrations") {
		if _, err := e.s.DB().Exec(e.sql("SELECT 1 FROM {" + table + "}")); err == nil {
			t.Fatalf("plan or apply created %s", table)
		}
	}
	st, err := e.s.MigrationStatus(ctx)
	if err != nil || st.Current != 0 || st.Latest == 0 || len(st.Pending) == 0 || st.Pending[len(st.Pending)-1].Version != st.Latest {
		t.Fatalf("status of an un-migrated database: %+v, %v", st, err)
	}
	dry, err := e.s.Migrate(ctx, true)
	if err != nil || dry.Current != 0 || len(dry.Pending) != len(st.Pending) {
		t.Fatalf("dry-run migrate: %+v, %v", dry, err)
	}
	if _, err := e.s.DB().Exec(e.sql("SELECT 1 FROM {runs}")); err == nil {
		t.Fatal("a dry-run migrate created tables")
	}
}

// A schema one migration behind: plan and apply refuse with the versions
// and what to do; migrate applies only the missing migration.
func testOutdatedSchema(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newBareEnv(t, nb)
	st, err := e.s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Latest < 2 {
		t.Skip("only one migration: no older schema to start from")
	}
	CreateFacts(t, e.s, e.b.FactsDDL, 50)
	prev, latest := st.Pending[len(st.Pending)-2].Version, st.Latest
	e.b.SetUpVersion(t, e.s, prev)
	if st, err := e.s.MigrationStatus(ctx); err != nil || st.Current != prev || len(st.Pending) != 1 {
		t.Fatalf("status of the older schema: %+v, %v", st, err)
	}
	want := fmt.Sprintf("is at version %d but this tierflow needs %d: run `tierflow migrate`", prev, latest)
	if _, err := jobs.Plan(ctx, e.s, e.f, RetailRuleSet(t), Options()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("plan on an outdated schema: %v, want %q", err, want)
	}
	if _, err := jobs.Apply(ctx, e.s, e.f, RetailRuleSet(t), Options()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("apply on an outdated schema: %v, want %q", err, want)
	}
	got, err := e.s.Migrate(ctx, false)
	if err != nil || got.Current != latest || len(got.Pending) != 0 {
		t.Fatalf("migrate from version %d: %+v, %v", prev, got, err)
	}
	if n := e.count(`SELECT count(*) FROM {schema_migrations}`); n != len(st.Pending) {
		t.Fatalf("schema_migrations holds %d rows, want %d", n, len(st.Pending))
	}
	if _, err := jobs.Apply(ctx, e.s, e.f, RetailRuleSet(t), Options()); err != nil {
		t.Fatalf("apply after migrate: %v", err)
	}
}

func testMigrateTwice(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newBareEnv(t, nb)
	CreateFacts(t, e.s, e.b.FactsDDL, 10)
	st, err := e.s.Migrate(ctx, false)
	if err != nil || st.Current != st.Latest || len(st.Pending) != 0 {
		t.Fatalf("first migrate: %+v, %v", st, err)
	}
	before := e.databaseDigest()
	st, err = e.s.Migrate(ctx, false)
	if err != nil || st.Current != st.Latest || len(st.Pending) != 0 {
		t.Fatalf("second migrate: %+v, %v", st, err)
	}
	SameDigests(t, "database after a second migrate", e.databaseDigest(), before)
}

// Many migrates at once, from separate connection pools as separate
// processes would: every migrate succeeds and each version is applied
// once.
func testConcurrentMigrates(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newBareEnv(t, nb)
	const n = 6
	stores := []Store{e.s}
	for len(stores) < n {
		stores = append(stores, e.open())
	}
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Migrate(ctx, false)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate %d: %v", i, err)
		}
	}
	st, err := e.s.MigrationStatus(ctx)
	if err != nil || st.Current != st.Latest {
		t.Fatalf("status after concurrent migrates: %+v, %v", st, err)
	}
	if got := e.count(`SELECT count(*) FROM {schema_migrations}`); got != e.count(`SELECT count(DISTINCT version) FROM {schema_migrations}`) || got < 1 {
		t.Fatalf("schema_migrations holds %d rows", got)
	}
	CreateFacts(t, e.s, e.b.FactsDDL, 100)
	if _, err := jobs.Apply(ctx, stores[1], factsOf(stores[1]), RetailRuleSet(t), Options()); err != nil {
		t.Fatal(err)
	}
}
