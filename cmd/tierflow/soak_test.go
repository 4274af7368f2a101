package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// soakSchedule is every two seconds: a seconds field, which serve takes
// only with TIERFLOW_TEST_SCHEDULE_SECONDS=1.
const soakSchedule = "*/2 * * * * *"

// soakCustomers makes a run last a good part of a second, so that the
// signals land while a run is in progress.
const soakCustomers = 20000

// soakLease is the replicas' --slot-lease: a killed replica's claim
// lapses within it, and is renewed and looked for every second.
const soakLease = 3 * time.Second

// TestServeSoakKillAndRestart runs two replicas of `tierflow serve` on a
// PostgreSQL database with a slot every two seconds, for about half a
// minute: replica a is SIGKILLed the moment it starts a run, restarted,
// and stopped with SIGTERM the moment it starts another; replica b runs
// throughout and is stopped last. Every slot of the window must be
// applied exactly once: none twice, none missed or lost, the killed and
// the cancelled ones taken over by b.
func TestServeSoakKillAndRestart(t *testing.T) {
	bin := tierflowBinary(t)
	d := newDBEnv(t, soakCustomers)
	d.run(t, "migrate").want(t, exitOK)
	cfg := soakConfig(t)
	begin := time.Now()

	a := startReplica(t, bin, d.url, cfg)
	b := startReplica(t, bin, d.url, cfg)
	a.waitReady(t)
	b.waitReady(t)
	time.Sleep(6 * time.Second)

	killedSlot := a.stopAtRunStart(t, syscall.SIGKILL)
	t.Logf("SIGKILLed a while it ran slot %s", killedSlot.Format(time.TimeOnly))
	time.Sleep(3 * soakLease) // b takes a's claim over once it lapses

	a2 := startReplica(t, bin, d.url, cfg)
	a2.waitReady(t)
	time.Sleep(3 * time.Second)
	cancelledSlot := a2.stopAtRunStart(t, syscall.SIGTERM)
	t.Logf("SIGTERMed the restarted a while it ran slot %s", cancelledSlot.Format(time.TimeOnly))
	time.Sleep(2 * soakLease) // b takes the released slot over at its next look

	stopped := time.Now()
	b.stop(t, syscall.SIGTERM)
	t.Logf("soak ran %s", time.Since(begin).Round(100*time.Millisecond))

	// The window: the first slot recorded, to the last one b had time to
	// run before it stopped.
	var first time.Time
	if err := d.db.QueryRow(`SELECT min(slot) FROM tierflow.slots`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	sched, err := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow).Parse(soakSchedule)
	if err != nil {
		t.Fatal(err)
	}
	var window []time.Time
	for s := first; !s.After(stopped.Add(-soakLease)); s = sched.Next(s) {
		window = append(window, s.UTC())
	}
	applied := soakApplied(t, d)
	logs := a.out.String() + a2.out.String() + b.out.String()
	for _, s := range window {
		if got := applied[s]; len(got) != 1 || got[0] != "succeeded" {
			t.Errorf("slot %s: runs that applied it %v, want exactly one succeeded", s.Format(time.TimeOnly), got)
		}
	}
	for s, got := range applied {
		if len(got) > 1 {
			t.Errorf("slot %s applied %d times: %v", s.Format(time.TimeOnly), len(got), got)
		}
	}
	if n := d.count(t, `SELECT count(*) FROM tierflow.runs WHERE status = 'missed'`); n != 0 {
		t.Errorf("%d slots were missed", n)
	}
	if n := d.count(t, `SELECT count(*) FROM tierflow.slots s WHERE status <> 'claimed'
		AND NOT EXISTS (SELECT 1 FROM tierflow.runs r WHERE r.id = s.run_id AND r.slot = s.slot AND r.status = s.status)`); n != 0 {
		t.Errorf("%d finished slots do not name the run that finished them", n)
	}
	// Where the signals landed; the slots were applied once either way.
	t.Logf("the killed run of %s left %d abandoned runs (0: it had not started or had committed)", killedSlot.Format(time.TimeOnly),
		d.count(t, `SELECT count(*) FROM tierflow.runs WHERE slot = $1 AND status IN ('abandoned', 'running')`, killedSlot))
	t.Logf("the SIGTERMed run of %s left %d cancelled runs (0: it had not started or had finished)", cancelledSlot.Format(time.TimeOnly),
		d.count(t, `SELECT count(*) FROM tierflow.runs WHERE slot = $1 AND status = 'cancelled'`, cancelledSlot))
	if n := d.count(t, `SELECT count(*) FROM tierflow.runs WHERE status = 'failed'`); n != 0 {
		t.Errorf("%d runs failed", n)
	}
	if strings.Contains(logs, "panic") || !strings.Contains(logs, "took over a slot whose claim lapsed") {
		t.Errorf("the logs show a panic or no takeover:\n%s", logs)
	}
	statuses := map[string]int{}
	rows, err := d.db.Query(`SELECT status, count(*) FROM tierflow.runs GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			t.Fatal(err)
		}
		statuses[st] = n
	}
	t.Logf("%d slots in the window, each applied once; runs by status %v", len(window), statuses)
	t.Logf("run durations: %s", strings.Join(soakTook(logs), " "))
	if t.Failed() {
		t.Logf("serve logged:\n%s", logs)
	}
}

// soakConfig writes the retail rule set on soakSchedule and a config
// that reads its facts from the state database.
func soakConfig(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "retail.yaml")
	text := strings.Replace(string(src), "params:\n", fmt.Sprintf("schedule: {cron: %q, timezone: UTC}\n\nparams:\n", soakSchedule), 1)
	if err := os.WriteFile(rules, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "tierflow.yaml")
	body := fmt.Sprintf("rulesets:\n  - rules: %s\n    source: customer_facts\nserve:\n  shutdown_timeout: 20s\n", rules)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// soakApplied returns, for each slot, the statuses of its runs that ran
// to an outcome (succeeded, blocked or failed).
func soakApplied(t *testing.T, d *dbEnv) map[time.Time][]string {
	t.Helper()
	rows, err := d.db.Query(`SELECT slot, status FROM tierflow.runs
		WHERE slot IS NOT NULL AND status IN ('succeeded', 'blocked', 'failed') ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[time.Time][]string{}
	for rows.Next() {
		var s time.Time
		var st string
		if err := rows.Scan(&s, &st); err != nil {
			t.Fatal(err)
		}
		out[s.UTC()] = append(out[s.UTC()], st)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// replica is one `tierflow serve` process.
type replica struct {
	cmd    *exec.Cmd
	addr   string
	out    *logLines
	exited chan error
}

func startReplica(t *testing.T, bin, url, cfg string) *replica {
	t.Helper()
	r := &replica{addr: freePort(t), out: &logLines{starts: make(chan string, 64)}, exited: make(chan error, 1)}
	r.cmd = exec.Command(bin, "serve", "--config", cfg, "--listen", r.addr, "--slot-lease", soakLease.String())
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TIERFLOW_DATABASE_URL=" + url, testSecondsEnv + "=1"}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	return r
}

func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := get("http://" + r.addr + "/readyz"); code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve is not ready after 20s:\n%s", r.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// soakInRun is how long after a run starts a signal is sent: the run has
// recorded itself and is reading facts (a run takes 100-250 ms).
const soakInRun = 60 * time.Millisecond

// stopAtRunStart sends sig just after the replica logs that a run
// starts, waits for it to exit, and returns the run's slot.
func (r *replica) stopAtRunStart(t *testing.T, sig syscall.Signal) time.Time {
	t.Helper()
	for len(r.out.starts) > 0 {
		<-r.out.starts // runs started before now
	}
	var line string
	select {
	case line = <-r.out.starts:
	case <-time.After(30 * time.Second):
		t.Fatalf("the replica started no run in 30s:\n%s", r.out)
	}
	time.Sleep(soakInRun) // into the run: past its start, before its commit
	r.stop(t, sig)
	var rec struct {
		Slot time.Time `json:"slot"`
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	return rec.Slot.UTC()
}

// stop sends sig and waits for the process to end: at once for SIGKILL,
// with exit status 0 otherwise.
func (r *replica) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.exited:
		if sig != syscall.SIGKILL && err != nil {
			t.Fatalf("serve exited with %v after %s:\n%s", err, sig, r.out)
		}
	case <-time.After(25 * time.Second):
		t.Fatalf("serve did not exit after %s:\n%s", sig, r.out)
	}
}

// logLines collects a process's output, and passes each line that says
// a run starts to starts as soon as it is written.
type logLines struct {
	mu     sync.Mutex
	b      bytes.Buffer
	part   []byte
	starts chan string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		if line := string(l.part[:i]); strings.Contains(line, `"msg":"run starting"`) {
			select {
			case l.starts <- line:
			default:
			}
		}
		l.part = l.part[i+1:]
	}
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// soakTook lists how long each finished run took, from serve's logs.
func soakTook(logs string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Took string `json:"took"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "run finished" {
			out = append(out, rec.Took)
		}
	}
	return out
}
