package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
)

// shardFacts fills customer_facts (factsDDL) with customers whose facts
// follow from their id alone: two databases filled by it hold the same.
const shardFacts = factsDDL + `;
INSERT INTO customer_facts
    SELECT g, (g * 7919) % 90000, (g * 104729) % 90000, g % 13,
           date '2024-07-01' - (g * 31) % 2000,
           CASE WHEN g % 23 = 0 THEN NULL ELSE timestamptz '2024-07-01' - ((g * 17) % 500) * interval '1 day' END,
           (ARRAY['online', 'store', 'partner'])[1 + g % 3]
    FROM generate_series(1, 4000) AS g`

// shardFactsDB opens the database of url, closed when the test ends,
// and fills it with shardFacts.
func shardFactsDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(shardFacts); err != nil {
		t.Fatal(err)
	}
	return db
}

// shardShift changes the facts so that many customers move and actions
// are queued on the next night.
const shardShift = `UPDATE customer_facts SET
    channel = CASE channel WHEN 'online' THEN 'store' WHEN 'store' THEN 'partner' ELSE 'online' END,
    spend_prev_12m = CASE WHEN customer_id % 3 = 0 THEN spend_12m * 3 ELSE spend_prev_12m END,
    first_order_at = CASE WHEN customer_id % 50 = 1 THEN date '2024-07-01' ELSE first_order_at END`

// shardOutcome is the state a run leaves, without surrogate ids and run
// ids: two databases that reached it by different runs agree on it.
var shardOutcome = []string{
	`SELECT ruleset, segmentation, customer_key, segment, since, pending_since, reason FROM tierflow.assignments`,
	`SELECT ruleset, segmentation, customer_key, from_segment, to_segment, matched, reason, as_of FROM tierflow.history`,
	`SELECT ruleset, action, customer_key, payload, priority, status, created_at, due_at, idempotency_key, destination FROM tierflow.actions`,
	`SELECT ruleset, action, customer_key, queued_at FROM tierflow.action_last`,
}

// TestShardProcesses runs the retail example, facts in the state
// database, as four `tierflow apply --shard I/4` processes at once, and
// the same nights as one unsharded apply on a twin database: after each
// night both hold the same assignments, history, queue and cooldowns. On
// the second night shard 2 is SIGKILLed mid-run: the others commit, the
// parent run stays open, and shard 2 rerun alone completes it.
func TestShardProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tierflow processes against PostgreSQL")
	}
	t.Parallel()
	bin := tierflowBinary(t)
	urls := [2]string{pgtest.URL(t), pgtest.URL(t)} // control, sharded
	var dbs [2]*sql.DB
	var configs [2]string
	for i, url := range urls {
		dbs[i] = shardFactsDB(t, url)
		dir := t.TempDir()
		// A slow view of the facts: the kill lands before the commit.
		writeFiles(t, dir, map[string]string{
			"tierflow.yaml": "database: {url_env: TIERFLOW_DATABASE_URL}\nrulesets:\n  - rules: " + absPath(retailRules) +
				"\n    source: {query: \"SELECT f.* FROM customer_facts f CROSS JOIN (SELECT pg_sleep(0.6)) AS pause\"}\n",
		})
		configs[i] = filepath.Join(dir, "tierflow.yaml")
		runCLI(t, map[string]string{"TIERFLOW_DATABASE_URL": url}, "migrate", "--config", configs[i]).want(t, exitOK)
	}
	env := func(i int) []string { return []string{"TIERFLOW_DATABASE_URL=" + urls[i]} }
	apply := func(i int, asOf string, extra ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"apply", "--quiet", "--allow-large-change", "--config", configs[i], "--as-of", asOf}, extra...)...)
		cmd.Env = append(cmd.Environ(), env(i)...)
		cmd.Stderr = new(bytes.Buffer)
		return cmd
	}
	run := func(cmd *exec.Cmd) {
		t.Helper()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd.Args, err, cmd.Stderr)
		}
	}
	shards := func(asOf string) []*exec.Cmd {
		var cmds []*exec.Cmd
		for i := range 4 {
			cmd := apply(1, asOf, "--shard", fmt.Sprintf("%d/4", i))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		return cmds
	}
	wait := func(cmds ...*exec.Cmd) {
		t.Helper()
		for _, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd.Args, err, cmd.Stderr)
			}
		}
	}
	same := func(night string) {
		t.Helper()
		for _, q := range shardOutcome {
			want, got := rowsDigest(t, dbs[0], q), rowsDigest(t, dbs[1], q)
			if got != want {
				t.Fatalf("%s: %s\nsharded: %s\nunsharded: %s", night, q, got, want)
			}
		}
	}

	// Night 1, the first run: four shards at once.
	run(apply(0, "2024-07-01"))
	wait(shards("2024-07-01")...)
	same("after the first night")

	// Night 2: shard 2 is killed once its run is under way.
	for _, db := range dbs {
		if _, err := db.Exec(shardShift); err != nil {
			t.Fatal(err)
		}
	}
	run(apply(0, "2024-07-02"))
	cmds := shards("2024-07-02")
	waitUntil(t, 20*time.Second, "shard 2's run under way", func() bool {
		return countRows(t, dbs[1], `SELECT count(*) FROM tierflow.runs WHERE shard = 2 AND status = 'running' AND as_of = '2024-07-02'`) == 1
	})
	time.Sleep(200 * time.Millisecond)
	if err := cmds[2].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmds[2].Wait(); err == nil {
		t.Fatal("shard 2 finished before it was killed: the test killed nothing")
	}
	wait(cmds[0], cmds[1], cmds[3])
	if n := countRows(t, dbs[1], `SELECT count(*) FROM tierflow.runs WHERE kind = 'sharded' AND as_of = '2024-07-02' AND status = 'running'`); n != 1 {
		t.Fatalf("%d open parent runs after a shard was killed, want 1", n)
	}
	rerun := apply(1, "2024-07-02", "--shard", "2/4")
	out := new(bytes.Buffer)
	rerun.Stdout = out
	run(rerun)
	if !strings.Contains(out.String(), ", shard 2/4\n") {
		t.Errorf("the rerun's report does not name its shard:\n%s", out)
	}
	same("after the second night, shard 2 rerun")

	var statuses []string
	rows, err := dbs[1].Query(`SELECT coalesce(shard::text, 'parent') || ' ' || status FROM tierflow.runs WHERE as_of = '2024-07-02' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, s)
	}
	got := strings.Join(statuses, ", ")
	for _, want := range []string{"parent succeeded", "2 abandoned", "2 succeeded", "0 succeeded", "1 succeeded", "3 succeeded"} {
		if !strings.Contains(got, want) {
			t.Fatalf("runs of the second night: %s; want %q among them", got, want)
		}
	}
	if n := countRows(t, dbs[1], `SELECT count(*) FROM tierflow.actions WHERE created_at = '2024-07-02'`); n == 0 {
		t.Fatal("the second night queued no actions: the test compares no queue")
	}

	r := runCLI(t, map[string]string{"TIERFLOW_DATABASE_URL": urls[1]}, "runs", "--config", configs[1]).want(t, exitOK)
	for _, want := range []string{"sharded:4", "apply 2/4", "abandoned"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("tierflow runs does not show %q:\n%s", want, r.stdout)
		}
	}
}

// rowsDigest is the number of rows query returns and an md5 of their
// text, in a stable order.
func rowsDigest(t *testing.T, db *sql.DB, query string) string {
	t.Helper()
	var sum string
	var n int
	if err := db.QueryRow(`SELECT coalesce(md5(string_agg(r::text, E'\n' ORDER BY r::text)), ''), count(*) FROM (`+query+`) AS r`).Scan(&sum, &n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return fmt.Sprintf("%d rows %s", n, sum)
}

// On the embedded store, --shard is refused before anything runs, and a
// malformed --shard names the form it takes.
func TestShardRefused(t *testing.T) {
	t.Parallel()
	dir, _ := fileProject(t, "", "1,100,100,1,2023-01-01,2024-06-01,online\n")
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	r := runCLI(t, nil, "apply", "--shard", "0/2", "--quiet", "--config", config).want(t, exitFailure)
	if !strings.Contains(r.stderr, "--shard needs the PostgreSQL store") {
		t.Errorf("apply --shard on SQLite: %s", r.stderr)
	}
	r = runCLI(t, nil, "runs", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "no runs yet") {
		t.Errorf("a refused --shard recorded a run:\n%s", r.stdout)
	}
	for arg, want := range map[string]string{"2": "give INDEX/COUNT", "4/4": "INDEX must be 0 to 3", "0/0": "COUNT must be 1 to 1024", "a/2": "whole numbers"} {
		r := runCLI(t, nil, "apply", "--shard", arg, "--config", config).want(t, exitFailure)
		if !strings.Contains(r.stderr, want) {
			t.Errorf("apply --shard %s: %s; want %q", arg, r.stderr, want)
		}
	}
}
