package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// crashChildEnv tells the test binary it is the child of TestKilledApply,
// and what to do.
const crashChildEnv = "TIERFLOW_SQLITE_CRASH_CHILD"

// crashSpec is the child's task: apply the retail example to the file at
// as-of, and stop forever at the named point of the apply (see hook) to
// be killed there.
type crashSpec struct {
	Path  string
	AsOf  time.Time
	Point string
	// SmallCache makes SQLite spill the commit's changes to the WAL before
	// it commits, so that the kill leaves uncommitted pages on disk.
	SmallCache bool
}

// TestCrashChild is the apply TestKilledApply kills. It runs only in the
// child process that test starts.
func TestCrashChild(t *testing.T) {
	raw := os.Getenv(crashChildEnv)
	if raw == "" {
		t.Skip("the apply that TestKilledApply kills; runs only in its child process")
	}
	var spec crashSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	if spec.SmallCache {
		applyCacheKiB = 256
	}
	testHook = func(point string) {
		if point == spec.Point {
			fmt.Printf("at %s\n", point)
			time.Sleep(time.Hour) // until killed
		}
	}
	ctx := context.Background()
	s, err := openTest(ctx, Config{Path: spec.Path}, map[string]string{"retail": "customer_facts"})
	if err != nil {
		t.Fatal(err)
	}
	o := crashOptions()
	o.AsOf = spec.AsOf
	fmt.Println("started")
	_, err = jobs.Apply(ctx, s, s.facts(), storetest.RetailRuleSet(t), o)
	fmt.Printf("finished: %v\n", err)
}

func crashOptions() jobs.Options {
	o := storetest.Options()
	o.Guard.AllowLarge = true
	o.BatchSize = 500
	return o
}

// killPoint is where to kill an apply: at a hook point, or a delay after
// it starts. An apply killed by a delay may have committed.
type killPoint struct {
	name       string
	point      string
	delay      time.Duration
	smallCache bool
}

// crashDB is a database file of the crash test.
type crashDB struct {
	t    *testing.T
	path string
}

func newCrashDB(t *testing.T, path string, n int) *crashDB {
	d := &crashDB{t: t, path: path}
	d.with(func(s testStore) {
		if _, err := s.Migrate(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		storetest.CreateFacts(t, s, factsDDL, n)
	})
	return d
}

// with opens the file, runs fn and closes it again, so that no
// connection of the test is open while a child runs: the child's crash
// is then recovered from by the next open, as after a real one.
func (d *crashDB) with(fn func(s testStore)) {
	d.t.Helper()
	s, err := openTest(context.Background(), Config{Path: d.path}, map[string]string{"retail": "customer_facts"})
	if err != nil {
		d.t.Fatal(err)
	}
	defer s.Close()
	fn(s)
}

func (d *crashDB) apply(at time.Time) (took time.Duration) {
	d.t.Helper()
	d.with(func(s testStore) {
		o := crashOptions()
		o.AsOf = at
		start := time.Now()
		if _, err := jobs.Apply(context.Background(), s, s.facts(), storetest.RetailRuleSet(d.t), o); err != nil {
			d.t.Fatal(err)
		}
		took = time.Since(start)
	})
	return took
}

// state returns the state digest and the runs newer than after, after
// checking that the file is sound.
func (d *crashDB) state(after int64) (map[string]string, []storetestRun) {
	d.t.Helper()
	var digest map[string]string
	var runs []storetestRun
	d.with(func(s testStore) {
		var check string
		if err := s.DB().QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			d.t.Fatalf("integrity check: %q, %v", check, err)
		}
		digest = storetest.StateDigest(d.t, s)
		if err := s.DB().Select(&runs, `SELECT id, status FROM runs WHERE id > $1 ORDER BY id`, after); err != nil {
			d.t.Fatal(err)
		}
	})
	return digest, runs
}

type storetestRun struct {
	ID     int64  `db:"id"`
	Status string `db:"status"`
}

func (d *crashDB) lastRun() int64 {
	var id int64
	d.with(func(s testStore) {
		if err := s.DB().QueryRow(`SELECT coalesce(max(id), 0) FROM runs`).Scan(&id); err != nil {
			d.t.Fatal(err)
		}
	})
	return id
}

// kill starts a child applying at as-of and SIGKILLs it at kp. It
// returns how many uncommitted WAL frames the child left on disk.
func (d *crashDB) kill(kp killPoint, at time.Time) (uncommitted int) {
	d.t.Helper()
	spec, err := json.Marshal(crashSpec{Path: d.path, AsOf: at, Point: kp.point, SmallCache: kp.smallCache})
	if err != nil {
		d.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(spec))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var out []string
	timeout := time.After(time.Minute)
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok || strings.HasPrefix(line, "finished") {
				cmd.Process.Kill() //nolint:errcheck
				cmd.Wait()         //nolint:errcheck
				d.t.Fatalf("kill point %q: the apply ended before it was killed: %s\n%s", kp.name, strings.Join(append(out, line), "\n"), stderr.String())
			}
			out = append(out, line)
			if line == "at "+kp.point || (kp.delay > 0 && line == "started") {
				break wait
			}
		case <-timeout:
			cmd.Process.Kill() //nolint:errcheck
			d.t.Fatalf("kill point %q never reached: %s\n%s", kp.name, strings.Join(out, "\n"), stderr.String())
		}
	}
	time.Sleep(kp.delay)
	if err := cmd.Process.Kill(); err != nil {
		d.t.Fatal(err)
	}
	_ = cmd.Wait()
	for range lines { // drain
	}
	committed, uncommitted, err := walFrames(d.path + "-wal")
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Logf("killed %s: the WAL holds %d committed and %d uncommitted frames", kp.name, committed, uncommitted)
	return uncommitted
}

// walFrames counts the frames of the current WAL generation that belong
// to a committed transaction, and those after the last commit: pages a
// transaction wrote before it committed.
func walFrames(path string) (committed, uncommitted int, err error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, 0, nil
	}
	if err != nil || len(b) < 32 {
		return 0, 0, err
	}
	pageSize := int(binary.BigEndian.Uint32(b[8:12]))
	salt := b[16:24]
	frames := 0
	for off := 32; off+24+pageSize <= len(b); off += 24 + pageSize {
		h := b[off : off+24]
		if !bytes.Equal(h[8:16], salt) {
			break // a frame of an earlier generation
		}
		frames++
		if binary.BigEndian.Uint32(h[4:8]) != 0 { // a commit frame
			committed += frames
			frames = 0
		}
	}
	return committed, frames, nil
}

// A SIGKILLed apply leaves the file sound and the previous state intact,
// at any point of its run, even with the commit's uncommitted pages
// already in the WAL; killed just after its commit, it leaves the new
// state. The next apply converges on the state an uninterrupted apply
// produces, queues no action twice and marks the killed runs abandoned.
func TestKilledApply(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs and kills a dozen applies")
	}
	// The kill points do not depend on timing, and 5000 customers are
	// enough for the commit to spill pages into the WAL; set
	// TIERFLOW_CRASH_CUSTOMERS to try a larger size.
	n := 5000
	if v := os.Getenv("TIERFLOW_CRASH_CUSTOMERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			t.Fatalf("TIERFLOW_CRASH_CUSTOMERS=%q: want a number of customers, at least 1000", v)
		}
	}
	dir := t.TempDir()
	day := func(n int) time.Time { return storetest.Options().AsOf.AddDate(0, 0, n) }
	control := newCrashDB(t, filepath.Join(dir, "control.db"), n)
	crash := newCrashDB(t, filepath.Join(dir, "crash.db"), n)
	control.apply(day(0))
	control.with(func(s testStore) { storetest.ShiftFacts(t, s.DB()) })
	took := control.apply(day(1))
	var want map[string]string
	control.with(func(s testStore) { want = storetest.OutcomeDigest(t, s) })

	// A killed first run leaves nothing behind.
	empty, _ := crash.state(0)
	if uncommitted := crash.kill(killPoint{name: "first run, recording the run", point: "record run", smallCache: true}, day(0)); uncommitted == 0 {
		t.Fatal("the killed first apply left no uncommitted pages in the WAL; the test proves nothing")
	}
	after, runs := crash.state(0)
	storetest.SameDigests(t, "state after killing the first apply", after, empty)
	if len(runs) != 1 || runs[0].Status != "running" {
		t.Fatalf("the killed first apply left runs %+v, want one running", runs)
	}
	killed := 1
	crash.apply(day(0))
	crash.with(func(s testStore) { storetest.ShiftFacts(t, s.DB()) })

	old, _ := crash.state(0)
	points := []killPoint{
		{name: "holding the lock", point: "locked"},
		{name: "staging", point: "staged"},
		{name: "writing state", point: "write state", smallCache: true},
		{name: "removing emptied state", point: "remove emptied state", smallCache: true},
		{name: "writing history", point: "write history", smallCache: true},
		{name: "queueing actions", point: "queue actions", smallCache: true},
		{name: "recording the run", point: "record run", smallCache: true},
	}
	// Kills by time, from the start to around the commit: each leaves the
	// old state or, past the commit, the new one; never anything else.
	for _, f := range []float64{0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.5} {
		d := time.Duration(f * float64(took))
		points = append(points, killPoint{name: fmt.Sprintf("after %v", d.Round(time.Millisecond)), delay: d})
	}
	committedKills := 0
	for _, kp := range points {
		last := crash.lastRun()
		uncommitted := crash.kill(kp, day(1))
		if kp.smallCache && uncommitted == 0 {
			t.Fatalf("killed %s: no uncommitted pages in the WAL; the test proves nothing", kp.name)
		}
		state, runs := crash.state(last)
		if len(runs) > 1 {
			t.Fatalf("killed %s: %d new run records, want at most one", kp.name, len(runs))
		}
		if kp.delay > 0 && len(runs) == 1 && runs[0].Status == "succeeded" {
			// Killed after its commit: the new state, durably.
			committedKills++
			crash.with(func(s testStore) {
				storetest.SameDigests(t, "state after killing a committed apply", storetest.OutcomeDigest(t, s), want)
			})
			old = state
			continue
		}
		if len(runs) == 1 && runs[0].Status != "running" {
			t.Fatalf("killed %s: the run is %q, want running until the next apply", kp.name, runs[0].Status)
		}
		if len(runs) == 0 && kp.delay == 0 {
			t.Fatalf("killed %s: no run record", kp.name)
		}
		killed += len(runs)
		storetest.SameDigests(t, "state after killing an apply "+kp.name, state, old)
	}
	t.Logf("the apply took %v uninterrupted; %d applies killed by delay had committed", took, committedKills)

	// Killed right after its commit: the new state is there.
	last := crash.lastRun()
	crash.kill(killPoint{name: "after committing", point: "committed"}, day(1))
	if _, runs := crash.state(last); len(runs) != 1 || runs[0].Status != "succeeded" {
		t.Fatalf("killed after committing: runs %+v, want one succeeded", runs)
	}
	crash.with(func(s testStore) {
		storetest.SameDigests(t, "state after an apply killed after its commit, against an uninterrupted apply", storetest.OutcomeDigest(t, s), want)
	})
	converged, _ := crash.state(0)
	crash.apply(day(1))
	again, _ := crash.state(0)
	storetest.SameDigests(t, "state after repeating the apply", again, converged)
	crash.with(func(s testStore) {
		var statuses []storetestRun
		if err := s.DB().Select(&statuses, `SELECT count(*) AS id, status FROM runs GROUP BY status`); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, r := range statuses {
			got[r.Status] = r.ID
		}
		// Day 0, the apply killed after its commit, the final apply, and any
		// killed by delay after their commit.
		succeeded := int64(3 + committedKills)
		if got["running"] != 0 || got["abandoned"] != int64(killed) || got["succeeded"] != succeeded {
			t.Fatalf("run statuses %v, want %d abandoned (the killed runs) and %d succeeded", got, killed, succeeded)
		}
		var dup int
		if err := s.DB().QueryRow(`SELECT count(*) - count(DISTINCT idempotency_key) FROM actions`).Scan(&dup); err != nil || dup != 0 {
			t.Fatalf("%d repeated idempotency keys (%v)", dup, err)
		}
	})
}
