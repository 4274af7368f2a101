package main

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/destinations/webhook"
)

// killActions is how many actions the kill test queues, and killAfter
// how many deliveries the first worker makes before it is SIGKILLed.
const (
	killActions = 200
	killAfter   = 30
)

// TestDeliverKillWorker queues killActions actions for a webhook on the
// embedded store, SIGKILLs a `tierflow deliver` after about killAfter
// deliveries, starts two more at once on the same queue and waits until
// every action is done. Every action must be delivered, none lost, each
// attempt recorded, and no action ever be in flight twice at once: the
// killed worker's claims are delivered again only once their lease (2s)
// has run out.
func TestDeliverKillWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs worker processes for several seconds")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "tierflow")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			killWorker(t, bin, store)
		})
	}
}

// killWorker is TestDeliverKillWorker on one state store.
func killWorker(t *testing.T, bin, store string) {
	rc := &slowReceiver{inflight: map[string]int{}, delivered: map[string]int{}, starts: map[string][]time.Time{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	env := map[string]string{}
	var db *sql.DB
	var config string
	if store == "postgres" {
		env["TIERFLOW_DATABASE_URL"] = pgtest.URL(t)
		config, _ = killProject(t, srv.URL, env)
		var err error
		if db, err = sql.Open("postgres", env["TIERFLOW_DATABASE_URL"]); err != nil {
			t.Fatal(err)
		}
		// One connection, so that the search path holds for every query.
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(`SET search_path TO tierflow`); err != nil {
			t.Fatal(err)
		}
	} else {
		var state string
		config, state = killProject(t, srv.URL, env)
		var err error
		if db, err = sql.Open("sqlite", "file:"+state+"?mode=ro&_pragma=busy_timeout(5000)"); err != nil {
			t.Fatal(err)
		}
	}
	defer db.Close()

	first := startDeliver(t, bin, config, env)
	waitUntil(t, 10*time.Second, "the first worker's deliveries", func() bool { return rc.total() >= killAfter })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	killed := time.Now()
	t.Logf("SIGKILLed the first worker after %d deliveries", rc.total())

	a, b := startDeliver(t, bin, config, env), startDeliver(t, bin, config, env)
	waitUntil(t, 20*time.Second, "every action done", func() bool {
		return countRows(t, db, `SELECT count(*) FROM actions WHERE status = 'done'`) == killActions
	})
	for _, w := range []*deliverProc{a, b} {
		w.stop(t)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.rejected > 0 {
		t.Errorf("%d requests failed verification", rc.rejected)
	}
	if rc.overlaps > 0 {
		t.Errorf("%d times an action was delivered while its earlier delivery was still in flight", rc.overlaps)
	}
	if len(rc.delivered) != killActions {
		t.Errorf("%d distinct webhook-ids delivered, want %d", len(rc.delivered), killActions)
	}
	again := 0
	for id, starts := range rc.starts {
		again += len(starts) - 1
		// A second delivery is the killed worker's claim, taken over
		// once its 2s lease ran out, not before.
		if len(starts) > 1 && starts[len(starts)-1].Sub(killed) < time.Second {
			t.Errorf("%s delivered again %s after the kill, before its lease ran out", id, starts[len(starts)-1].Sub(killed))
		}
	}
	t.Logf("%d deliveries of %d actions (%d again, after the kill)", rc.count, len(rc.delivered), again)
	if n := countRows(t, db, `SELECT count(*) FROM actions WHERE status <> 'done'`); n != 0 {
		t.Errorf("%d actions are not done", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM actions a WHERE NOT EXISTS (SELECT 1 FROM action_attempts x WHERE x.action_id = a.id)`); n != 0 {
		t.Errorf("%d actions have no attempt recorded", n)
	}
	// A claim counts an attempt; the killed worker's claims in flight
	// were never recorded, so an action may count one attempt more, and
	// no more, but for a live worker that stalled past its lease on a
	// loaded machine: another took the action over, and the stalled one
	// logged that it lost the lease and recorded nothing.
	lost := lostLeases(a.stderr.String() + b.stderr.String())
	rows, err := db.Query(`SELECT a.id, a.attempts - (SELECT count(*) FROM action_attempts x WHERE x.action_id = a.id) FROM actions a`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, unrecorded int
		if err := rows.Scan(&id, &unrecorded); err != nil {
			t.Fatal(err)
		}
		if unrecorded < 0 || unrecorded > 1+lost[id] {
			t.Errorf("action %d counts %d attempts more than it recorded; the killed worker explains 1, lost leases %d", id, unrecorded, lost[id])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(lost) > 0 {
		t.Logf("live workers lost the lease of %d actions (a stall past the 2s lease)", len(lost))
	}
	unrecorded := countRows(t, db, `SELECT sum(attempts) - (SELECT count(*) FROM action_attempts) FROM actions`)
	t.Logf("%d attempts unrecorded: the killed worker's", unrecorded)
	if n := countRows(t, db, `SELECT count(DISTINCT worker) FROM action_attempts`); n < 2 {
		t.Errorf("attempts recorded by %d workers, want the killed one and at least one other", n)
	}
}

// lostLease finds the worker's warning that it lost an action's lease,
// in text or JSON logs.
var lostLease = regexp.MustCompile(`lost the lease[^\n]*?\baction"?[=:](\d+)`)

// lostLeases counts, by action id, the lost leases the logs in stderr
// report.
func lostLeases(stderr string) map[int]int {
	out := map[int]int{}
	for _, m := range lostLease.FindAllStringSubmatch(stderr, -1) {
		id, _ := strconv.Atoi(m[1])
		out[id]++
	}
	return out
}

// killProject writes a project on the embedded store whose killActions
// customers each get vip_welcome delivered to the webhook at url, and
// applies it now, so that every action is due. It returns the config's
// path and the state file's.
func killProject(t *testing.T, url string, env map[string]string) (config, state string) {
	t.Helper()
	dir := t.TempDir()
	var facts strings.Builder
	facts.WriteString("customer_id,spend_12m\n")
	for i := 1; i <= killActions; i++ {
		fmt.Fprintf(&facts, "%d,1500\n", i)
	}
	writeFiles(t, dir, map[string]string{
		"rules/shop.yaml": strings.Replace(hookRules, "%s", "hook", 1),
		"facts.csv":       facts.String(),
		"tierflow.yaml": stateDatabase(env) + "rulesets:\n  - rules: rules/shop.yaml\n    source: {file: facts.csv}\n    initial_actions: true\n" +
			"delivery: {lease: 2s, timeout: 500ms}\n" +
			"destinations:\n  hook: {type: webhook, url: " + url + "/in, secret_env: HOOK_SECRET}\n",
	})
	config = filepath.Join(dir, "tierflow.yaml")
	runCLI(t, env, "migrate", "--config", config).want(t, exitOK)
	runCLI(t, env, "apply", "--quiet", "--config", config, "--as-of", time.Now().UTC().Format(time.RFC3339)).want(t, exitOK)
	return config, filepath.Join(dir, "state.db")
}

// stateDatabase is the database: line of a kill test's config: PostgreSQL
// when env has its URL, else the embedded store.
func stateDatabase(env map[string]string) string {
	if env["TIERFLOW_DATABASE_URL"] != "" {
		return "database: {url_env: TIERFLOW_DATABASE_URL}\n"
	}
	return "database: {path: state.db}\n"
}

// slowReceiver verifies each request, takes 20ms over it, and records
// each webhook-id's deliveries, and any that arrives while another
// delivery of it is still in flight.
type slowReceiver struct {
	mu        sync.Mutex
	inflight  map[string]int
	delivered map[string]int
	starts    map[string][]time.Time
	count     int
	overlaps  int
	rejected  int
}

func (rc *slowReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get(webhook.HeaderID)
	if err := webhook.Verify(testSecret, r.Header, body, time.Now(), 0); err != nil {
		rc.mu.Lock()
		rc.rejected++
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	if rc.inflight[id] > 0 {
		rc.overlaps++
	}
	rc.inflight[id]++
	rc.starts[id] = append(rc.starts[id], time.Now())
	rc.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	rc.mu.Lock()
	rc.inflight[id]--
	rc.delivered[id]++
	rc.count++
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (rc *slowReceiver) total() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.count
}

// deliverProc is a `tierflow deliver` process.
type deliverProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
}

// startDeliver starts `tierflow deliver` on config, with the test's
// signing secret and no TIERFLOW_ variable of the caller's.
func startDeliver(t *testing.T, bin, config string, env map[string]string) *deliverProc {
	t.Helper()
	p := &deliverProc{stderr: &syncBuffer{}}
	p.cmd = exec.Command(bin, "deliver", "--config", config)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIERFLOW_") && !strings.HasPrefix(kv, "HOOK_SECRET=") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, "HOOK_SECRET="+testSecret)
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

// stop sends SIGTERM and wants a clean exit within the grace period.
func (p *deliverProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tierflow deliver after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("tierflow deliver did not stop within 5s of SIGTERM:\n%s", p.stderr)
	}
}

// waitUntil polls cond every 20ms until it holds, failing after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countRows(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestLostLeasesReadsTheWorkersWarning(t *testing.T) {
	logs := `{"time":"2026-12-03T12:00:00Z","level":"WARN","msg":"jobs: worker lost the lease before finishing; the attempt is not recorded","action":17,"destination":"hook","attempt":2}
{"time":"2026-12-03T12:00:01Z","level":"INFO","msg":"delivering","action":18}
time=2026-12-03T12:00:02Z level=WARN msg="jobs: worker lost the lease before finishing; the attempt is not recorded" action=17 destination=hook attempt=3
`
	got := lostLeases(logs)
	if len(got) != 1 || got[17] != 2 {
		t.Fatalf("lostLeases = %v, want map[17:2]", got)
	}
}
