package postgres_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs/postgres"
)

// buildTierflow builds the tierflow command into a temporary directory.
func buildTierflow(t *testing.T) string {
	t.Helper()
	goBin, err := osexec.LookPath("go")
	if err != nil {
		t.Fatalf("the crash test builds the tierflow binary and needs the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "tierflow")
	out, err := osexec.Command(goBin, "build", "-o", bin, "github.com/tierflow/tierflow/cmd/tierflow").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/tierflow: %v\n%s", err, out)
	}
	return bin
}

// cliDB is a database with the retail facts, and a config file for the
// tierflow binary that points at it.
type cliDB struct {
	s      *postgres.Store
	url    string
	config string
	bin    string
}

func newCLIDB(t *testing.T, bin string, n int) *cliDB {
	t.Helper()
	d := &cliDB{bin: bin, config: filepath.Join(t.TempDir(), "tierflow.yaml")}
	d.s, d.url = newStoreURL(t, n)
	rules, err := filepath.Abs("../../examples/retail/retail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("rulesets:\n  - rules: %s\n    source: customer_facts\n", rules)
	if err := os.WriteFile(d.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// applyCmd returns `tierflow apply` at the given as-of for the database.
func (d *cliDB) applyCmd(at time.Time) (*osexec.Cmd, *bytes.Buffer) {
	cmd := osexec.Command(d.bin, "apply", "--config", d.config, "--as-of", at.Format(time.DateOnly), "--allow-large-change", "--quiet")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIERFLOW_") && !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "TIERFLOW_DATABASE_URL="+d.url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// apply runs `tierflow apply` to the end and requires it to succeed.
func (d *cliDB) apply(t *testing.T, at time.Time) {
	t.Helper()
	cmd, out := d.applyCmd(at)
	if err := cmd.Run(); err != nil {
		t.Fatalf("tierflow apply --as-of %s: %v\n%s", at.Format(time.DateOnly), err, out)
	}
}

// killPoint is a moment to SIGKILL an apply at. Blockers are statements
// the test runs in its own transactions before the apply starts: locks
// that stop the apply at a chosen statement of its write transaction
// (it waits for the lock, uncommitted), so it can never commit before it
// is killed. reached polls the database for the moment to kill.
type killPoint struct {
	name     string
	blockers []string
	reached  string // SQL returning a count; > 0 means now
	delay    time.Duration
	// runRow, when set, locks the apply's own run record as soon as it
	// exists, stopping the apply at its last statement, then releases
	// the first blocker.
	runRow bool
}

const (
	lockHeldSQL = `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`
	activeSQL = `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
		AND state = 'active' AND query LIKE %s`
	waitingSQL = `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
		AND wait_event_type = 'Lock' AND query LIKE %s`
	shareLock = `LOCK TABLE tierflow.%s IN SHARE MODE`
	// copyingSQL finds an apply that has staged some thousands of changes
	// (pg_stat_progress_copy is PostgreSQL 14 or later).
	copyingSQL = `SELECT count(*) FROM pg_stat_progress_copy WHERE datname = current_database() AND tuples_processed >= 5000`
)

func waitingAt(table string) string {
	return fmt.Sprintf(waitingSQL, quoteLike(`%INSERT INTO "tierflow".`+table+` %`))
}

func quoteLike(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// killPoints covers an apply from its start to its last statement.
var killPoints = []killPoint{
	{name: "at start", blockers: []string{fmt.Sprintf(shareLock, "customer_state")}, delay: time.Millisecond},
	{name: "after 150ms", blockers: []string{fmt.Sprintf(shareLock, "customer_state")}, delay: 150 * time.Millisecond},
	{name: "holding the lock", blockers: []string{fmt.Sprintf(shareLock, "customer_state")}, reached: lockHeldSQL},
	{name: "reading facts", blockers: []string{fmt.Sprintf(shareLock, "customer_state")}, reached: fmt.Sprintf(activeSQL, quoteLike(`SELECT src.%`))},
	{name: "staging with COPY", blockers: []string{fmt.Sprintf(shareLock, "customer_state")}, reached: copyingSQL},
	{name: "writing state", blockers: []string{fmt.Sprintf(shareLock, "customer_state")}, reached: waitingAt("customer_state")},
	{name: "writing history", blockers: []string{fmt.Sprintf(shareLock, "history")}, reached: waitingAt("history")},
	{name: "queueing actions", blockers: []string{fmt.Sprintf(shareLock, "actions")}, reached: waitingAt("actions")},
	{name: "recording the run", blockers: []string{fmt.Sprintf(shareLock, "actions")}, runRow: true,
		reached: fmt.Sprintf(waitingSQL, quoteLike(`UPDATE "tierflow".runs SET status = $2%`))},
}

func killPointNamed(t *testing.T, name string) killPoint {
	for _, kp := range killPoints {
		if kp.name == name {
			return kp
		}
	}
	t.Fatalf("no kill point %q", name)
	return killPoint{}
}

// killAt starts an apply, SIGKILLs it at kp and waits until its
// transaction is gone from the server. It returns the number of run
// records the killed apply left (0 if it died before recording its run).
func (d *cliDB) killAt(t *testing.T, kp killPoint, at time.Time) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := &killer{t: t, ctx: ctx, db: d.s.DB().DB, kp: kp}
	defer k.release()
	for _, q := range kp.blockers {
		k.block(q)
	}
	if err := k.db.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM tierflow.runs`).Scan(&k.lastRun); err != nil {
		t.Fatal(err)
	}

	cmd, out := d.applyCmd(at)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	k.waitForPoint(exited, out)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	k.release()
	k.waitForRollback()

	// A killed run stays 'running' until the next apply closes it.
	var statuses []string
	if err := d.s.DB().Select(&statuses, `SELECT status FROM tierflow.runs WHERE id > $1`, k.lastRun); err != nil {
		t.Fatal(err)
	}
	if len(statuses) > 1 || (len(statuses) == 1 && statuses[0] != "running") {
		t.Fatalf("kill point %q: new run records %v, want at most one, running", kp.name, statuses)
	}
	return len(statuses)
}

// killer holds the test's blocking transactions for one kill.
type killer struct {
	t        *testing.T
	ctx      context.Context
	db       *sql.DB
	kp       killPoint
	lastRun  int64 // the newest run before the apply started
	blockers []*sql.Tx
}

// block runs q in a new transaction that stays open until release.
func (k *killer) block(q string, args ...any) {
	k.t.Helper()
	tx, err := k.db.BeginTx(k.ctx, nil)
	if err != nil {
		k.t.Fatal(err)
	}
	k.blockers = append(k.blockers, tx)
	if _, err := tx.ExecContext(k.ctx, q, args...); err != nil {
		k.t.Fatalf("%s: %v", q, err)
	}
}

func (k *killer) release() {
	for _, tx := range k.blockers {
		_ = tx.Rollback()
	}
	k.blockers = nil
}

func (k *killer) poll(q string, args ...any) bool {
	k.t.Helper()
	var n int
	if err := k.db.QueryRowContext(k.ctx, q, args...).Scan(&n); err != nil {
		k.t.Fatalf("%s: %v", q, err)
	}
	return n > 0
}

// lockRunRow locks the apply's run record once it exists, and then lets
// go of the first blocker; it reports whether the row is locked.
func (k *killer) lockRunRow() bool {
	var id int64
	err := k.db.QueryRowContext(k.ctx, `SELECT id FROM tierflow.runs WHERE id > $1 AND status = 'running'`, k.lastRun).Scan(&id)
	if err != nil {
		return false
	}
	k.block(`SELECT 1 FROM tierflow.runs WHERE id = $1 FOR UPDATE`, id)
	if err := k.blockers[0].Rollback(); err != nil {
		k.t.Fatal(err)
	}
	return true
}

// waitForPoint returns when the apply is at the kill point, or waits
// behind a blocker (the point was passed unseen: still uncommitted).
func (k *killer) waitForPoint(exited <-chan error, out *bytes.Buffer) {
	k.t.Helper()
	stuck := fmt.Sprintf(waitingSQL, quoteLike(`%`))
	rowLocked := false
	for {
		select {
		case err := <-exited:
			k.t.Fatalf("kill point %q: the apply exited (%v) before it was killed; output:\n%s", k.kp.name, err, out)
		default:
		}
		if k.kp.delay > 0 {
			time.Sleep(k.kp.delay)
			return
		}
		if k.kp.runRow && !rowLocked {
			rowLocked = k.lockRunRow()
		}
		if k.poll(k.kp.reached) {
			return
		}
		if (!k.kp.runRow || rowLocked) && k.poll(stuck) && !k.poll(k.kp.reached) {
			k.t.Logf("kill point %q: not seen; killing the apply where it waits", k.kp.name)
			return
		}
		if k.ctx.Err() != nil {
			k.t.Fatalf("kill point %q never reached; output:\n%s", k.kp.name, out)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitForRollback waits until the server has rolled the dead client's
// transaction back, so that the next apply does not find the lock taken.
func (k *killer) waitForRollback() {
	k.t.Helper()
	for k.poll(lockHeldSQL) || k.poll(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'`) {
		if k.ctx.Err() != nil {
			k.t.Fatalf("kill point %q: the killed apply's transaction is still open", k.kp.name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A SIGKILLed apply leaves the previous state byte-for-byte intact, at
// any point of its run; the next apply converges on the state an
// uninterrupted apply produces, queues no action twice, and marks the
// killed runs abandoned.
func TestKilledApply(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the tierflow binary and kills it a dozen times")
	}
	bin := buildTierflow(t)
	// The kill points do not depend on timing, so a modest size keeps the
	// package fast; set TIERFLOW_CRASH_CUSTOMERS to try a larger one.
	n := 20000
	if v := os.Getenv("TIERFLOW_CRASH_CUSTOMERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			t.Fatalf("TIERFLOW_CRASH_CUSTOMERS=%q: want a number of customers, at least 1000", v)
		}
	}
	control := newCLIDB(t, bin, n)
	crash := newCLIDB(t, bin, n)

	control.apply(t, day(0))
	shiftFacts(t, control.s)
	control.apply(t, day(1))
	want := outcomeDigest(t, control.s)

	// A killed first run leaves nothing behind.
	empty := stateDigest(t, crash.s)
	killed := crash.killAt(t, killPointNamed(t, "writing history"), day(0))
	sameDigests(t, "state after killing the first apply", stateDigest(t, crash.s), empty)
	crash.apply(t, day(0))
	shiftFacts(t, crash.s)

	old := stateDigest(t, crash.s)
	for _, kp := range killPoints {
		left := crash.killAt(t, kp, day(1))
		if left == 0 && kp.delay == 0 {
			t.Fatalf("the apply killed %s left no run record", kp.name)
		}
		killed += left
		sameDigests(t, "state after killing an apply "+kp.name, stateDigest(t, crash.s), old)
	}

	crash.apply(t, day(1))
	sameDigests(t, "state after the apply that followed the kills, against an uninterrupted apply", outcomeDigest(t, crash.s), want)
	noDuplicateActions(t, crash.s)
	if got := runStatuses(t, crash.s); got["running"] != 0 || got["abandoned"] != killed || got["succeeded"] != 2 {
		t.Fatalf("run statuses %v, want %d abandoned (the killed runs) and 2 succeeded", got, killed)
	}

	// And it is done: the same apply again changes nothing.
	converged := stateDigest(t, crash.s)
	crash.apply(t, day(1))
	sameDigests(t, "state after repeating the apply", stateDigest(t, crash.s), converged)
	var changed, actions int
	if err := crash.s.DB().QueryRow(`SELECT changed, actions FROM tierflow.runs ORDER BY id DESC LIMIT 1`).Scan(&changed, &actions); err != nil {
		t.Fatal(err)
	}
	if changed != 0 || actions != 0 {
		t.Fatalf("the repeated apply changed %d customers and queued %d actions", changed, actions)
	}
}
