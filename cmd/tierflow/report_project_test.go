package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// reportProject is a demo-like project (the retail example, facts in a
// CSV file, state in SQLite) whose state store holds several monthly
// runs with every kind of figure the class report shows.
type reportProject struct {
	t         *testing.T
	dir, cfg  string
	env       map[string]string
	snapshots []time.Time // the as-of of each month's facts
	logs      syncBuffer  // what reportServer's handler logs
	clockMu   sync.Mutex
	clock     time.Time // after the story; every reading moves it on
}

// now is the project's clock: it starts after the story ends and moves
// 350ms on at every reading, so that runs take time.
func (p *reportProject) now() time.Time {
	p.clockMu.Lock()
	defer p.clockMu.Unlock()
	p.clock = p.clock.Add(350 * time.Millisecond)
	return p.clock
}

// reportProjectCustomers is the size of the project's population.
const reportProjectCustomers = 2000

// newReportProject applies the retail rules to generated customers once a
// month for seven months, and along the way: delivers the win-back calls
// to a file (done) and the account reviews to a webhook that refuses
// them (dead); records outcomes and failures and cancels an action; runs
// twice with a few unusable facts (rule errors); and once with half the
// customers missing from the facts, which the guard refuses (blocked),
// before the full load is applied.
func newReportProject(t *testing.T) *reportProject {
	t.Helper()
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no such account", http.StatusBadRequest)
	}))
	t.Cleanup(refuse.Close)
	p := &reportProject{t: t, dir: t.TempDir(), clock: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		env: map[string]string{"REPORT_TEST_SECRET": "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}}
	p.cfg = filepath.Join(p.dir, "tierflow.yaml")
	if err := writeDemoFiles(p.dir); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(p.dir, "rules", "retail.yaml")
	src, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte("  - name: account_review\n"), []byte("  - name: account_review\n    deliver_to: crm\n"), 1)
	cfg := demoConfig + "  crm:\n    type: webhook\n    url: " + refuse.URL + "\n    secret_env: REPORT_TEST_SECRET\n"
	if err := os.WriteFile(rules, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p.run(exitOK, "migrate")
	start := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	for month := range 7 {
		asOf := gen.Config{Customers: reportProjectCustomers, Seed: 11, AsOf: start}.Advance(month).SnapshotAt()
		p.snapshots = append(p.snapshots, asOf)
		p.facts(start, month)
		switch month {
		case 2, 5:
			p.spoilFacts(5)
		case 3:
			p.halveFacts()
			p.apply(asOf, exitFailure) // blocked: half the customers are missing
			p.facts(start, month)
		}
		p.apply(asOf, exitOK)
		if month > 0 {
			p.run(exitOK, "deliver", "--once")
			p.followUp(asOf)
		}
	}
	return p
}

// run runs tierflow in the project, with a clock after its story, and
// wants exit code want.
func (p *reportProject) run(want int, args ...string) result {
	p.t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr)
	a.getenv = func(k string) string { return p.env[k] }
	a.now = p.now
	if len(args) > 0 && args[0] != "gen" {
		args = append(args, "--config", p.cfg)
	}
	r := result{code: a.run(context.Background(), args), stdout: stdout.String(), stderr: stderr.String()}
	return r.want(p.t, want)
}

func (p *reportProject) apply(asOf time.Time, want int) {
	p.t.Helper()
	p.run(want, "apply", "--quiet", "--as-of", asOf.Format(time.DateOnly))
}

// facts writes the month's snapshot of the customers to facts.csv.
func (p *reportProject) facts(start time.Time, month int) {
	p.t.Helper()
	p.run(exitOK, "gen", "--customers", fmt.Sprint(reportProjectCustomers), "--seed", "11", "--as-of", start.Format(time.DateOnly),
		"--months", fmt.Sprint(month), "--out", filepath.Join(p.dir, "facts.csv"))
}

// editFacts rewrites facts.csv's data lines with fn.
func (p *reportProject) editFacts(fn func(i int, line string) (string, bool)) {
	p.t.Helper()
	path := filepath.Join(p.dir, "facts.csv")
	b, err := os.ReadFile(path)
	if err != nil {
		p.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	out := lines[:1]
	for i, l := range lines[1:] {
		if l, keep := fn(i, l); keep {
			out = append(out, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// spoilFacts makes the spend of n customers unreadable: rule errors.
func (p *reportProject) spoilFacts(n int) {
	p.editFacts(func(i int, l string) (string, bool) {
		if i%97 != 0 || i/97 >= n {
			return l, true
		}
		f := strings.Split(l, ",")
		f[1] = "n/a"
		return strings.Join(f, ","), true
	})
}

// halveFacts drops every other customer.
func (p *reportProject) halveFacts() {
	p.editFacts(func(i int, l string) (string, bool) { return l, i%2 == 0 })
}

// followUp plays the people who follow the actions up, three days after
// a run: some delivered win-back calls reached (which covers VIP and key
// customers), one failed, one VIP visit reached, and one welcome message
// cancelled.
func (p *reportProject) followUp(asOf time.Time) {
	p.t.Helper()
	at := asOf.Add(72 * time.Hour).Format(time.RFC3339)
	store, err := newApp(nil, nil).openStore(context.Background(), p.cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	list := func(action, status string) []kernel.QueuedAction {
		acts, err := store.Actions(context.Background(), kernel.ActionFilter{Action: action, Status: status, Limit: 1000})
		if err != nil {
			p.t.Fatal(err)
		}
		return acts
	}
	calls, visits, welcomes := list("winback_call", jobs.ActionDone), list("vip_care_visit", jobs.ActionPending), list("onboarding_message", jobs.ActionPending)
	store.Close()
	for i, q := range calls {
		switch {
		case q.OutcomeAt != nil:
		case i%3 == 0:
			p.run(exitOK, "actions", "done", fmt.Sprint(q.ID), "--outcome", "reached", "--at", at)
		case i%7 == 1:
			p.run(exitOK, "actions", "fail", fmt.Sprint(q.ID), "--note", "number disconnected", "--at", at)
		}
	}
	if len(visits) > 0 {
		p.run(exitOK, "actions", "done", fmt.Sprint(visits[0].ID), "--outcome", "reached", "--at", at)
	}
	if len(welcomes) > 0 {
		p.run(exitOK, "actions", "cancel", fmt.Sprint(welcomes[0].ID))
	}
}

// The retail example's segmentations and churn segment.
var (
	retailSegmentations = []string{"value_tier", "lifecycle", "source"}
	retailChurn         = [2]string{"lifecycle", "churned"}
)

// storeRun is one row of the runs table.
type storeRun struct {
	id                      int64
	kind, status            string
	asOf, started, finished time.Time
	byRule                  map[string]int
	coverage                []jobs.CoverageReport
}

// churnPeriod is one period of the report's churn rates.
type churnPeriod struct{ start, end time.Time }

// storeFigures are the figures the report's charts should show, in the
// keys of browsertest.Figures, computed from the project's database with
// SQL: class sizes and moves from the history of moves (not from the
// reports stored with runs), actions from the queue, durations, rule
// errors and coverage from the run record; effects as tierflow effects
// computes them. periods are the report's churn periods (of 30 days).
func (p *reportProject) storeFigures(since time.Time, periods []churnPeriod) map[string]float64 {
	t := p.t
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(p.dir, "tierflow.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := map[string]float64{}
	runs := p.storeRuns(db)
	var applies []storeRun
	for _, r := range runs {
		f[fmt.Sprintf("durations/%d/%s", r.id, r.status)] = r.finished.Sub(r.started).Seconds()
		for rule, n := range r.byRule {
			f[fmt.Sprintf("errors/%d/%s", r.id, rule)] = float64(n)
		}
		if r.status == "succeeded" && r.kind == "apply" {
			applies = append(applies, r)
		}
	}
	for _, r := range applies {
		for class, n := range sizesAfter(t, db, r.id) {
			f[fmt.Sprintf("sizes/%s/%d", class, r.id)] = float64(n)
		}
		for _, c := range r.coverage {
			f[fmt.Sprintf("coverage/%s.%s/%d", c.Segmentation, c.Segment, r.id)] = c.Share
		}
	}
	latest := applies[len(applies)-1]
	for _, c := range latest.coverage {
		k := "coverage-latest/" + c.Segmentation + "." + c.Segment + "/"
		f[k+"covered"], f[k+"pending"], f[k+"overdue"] = float64(c.Covered), float64(c.Pending), float64(c.Overdue)
	}
	for cell, n := range movesOf(t, db, "run_id = ?", latest.id) {
		f["moves/latest/"+cell] = float64(n)
	}
	for cell, n := range movesOf(t, db, "run_id >= ?", applies[0].id) {
		f["moves/period/"+cell], f["sankey/period/"+cell] = float64(n), float64(n)
	}
	for _, pr := range periods {
		p.churnFigures(db, f, pr, applies)
	}
	p.actionFigures(db, f, since)
	p.effectFigures(f)
	return f
}

func (p *reportProject) storeRuns(db *sql.DB) []storeRun {
	t := p.t
	rows, err := db.Query(`SELECT id, kind, status, as_of, started_at, coalesce(finished_at, ''), coalesce(detail, '{}') FROM runs WHERE ruleset = 'retail' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storeRun
	for rows.Next() {
		var r storeRun
		var asOf, started, finished, detail string
		if err := rows.Scan(&r.id, &r.kind, &r.status, &asOf, &started, &finished, &detail); err != nil {
			t.Fatal(err)
		}
		r.asOf, r.started, r.finished = parseStoreTime(t, asOf), parseStoreTime(t, started), parseStoreTime(t, finished)
		var d struct {
			Errors struct {
				ByRule map[string]int `json:"by_rule"`
			} `json:"errors"`
			Coverage []jobs.CoverageReport `json:"coverage"`
		}
		if err := json.Unmarshal([]byte(detail), &d); err != nil {
			t.Fatal(err)
		}
		r.byRule, r.coverage = d.Errors.ByRule, d.Coverage
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func parseStoreTime(t *testing.T, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sizesAfter counts each class's customers after run id, from the
// history: every customer is where its last move by then put it.
func sizesAfter(t *testing.T, db *sql.DB, id int64) map[string]int {
	t.Helper()
	rows, err := db.Query(`SELECT h.segmentation, h.to_segment, count(*) FROM history h
		WHERE h.ruleset = 'retail' AND h.run_id <= ?1 AND NOT EXISTS (SELECT 1 FROM history n
			WHERE n.ruleset = h.ruleset AND n.customer_key = h.customer_key AND n.segmentation = h.segmentation AND n.run_id <= ?1 AND n.id > h.id)
		GROUP BY 1, 2`, id)
	if err != nil {
		t.Fatal(err)
	}
	return countKeyed(t, rows, 2)
}

// movesOf counts the history's moves of the runs where says, as
// SEGMENTATION/FROM>TO.
func movesOf(t *testing.T, db *sql.DB, where string, arg any) map[string]int {
	t.Helper()
	rows, err := db.Query(`SELECT segmentation || '/' || coalesce(from_segment, '') || '>' || to_segment, count(*) FROM history
		WHERE ruleset = 'retail' AND `+where+` GROUP BY 1`, arg)
	if err != nil {
		t.Fatal(err)
	}
	return countKeyed(t, rows, 1)
}

// countKeyed reads rows of n key columns and a count, keyed KEY1/KEY2.
func countKeyed(t *testing.T, rows *sql.Rows, n int) map[string]int {
	t.Helper()
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		keys := make([]string, n)
		dest := make([]any, n+1)
		for i := range keys {
			dest[i] = &keys[i]
		}
		var count int
		dest[n] = &count
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		out[strings.Join(keys, "/")] += count
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// churnFigures adds one period's churn rates: of the customers in each
// class before the period's first apply, the share whose move into the
// churn segment, in one of its applies, left that class (the class held
// just before that apply).
func (p *reportProject) churnFigures(db *sql.DB, f map[string]float64, pr churnPeriod, applies []storeRun) {
	t := p.t
	var in []storeRun
	var before int64
	for _, r := range applies {
		switch {
		case r.asOf.Before(pr.start):
			before = r.id
		case r.asOf.Before(pr.start.Add(jobs.DefaultChurnPeriod)):
			in = append(in, r)
		}
	}
	if len(in) == 0 {
		return
	}
	atStart := map[string]int{}
	if before > 0 {
		atStart = sizesAfter(t, db, before)
	}
	churned := map[string]int{}
	for _, r := range in {
		for _, s := range retailSegmentations {
			rows, err := db.Query(`SELECT ?2, coalesce((SELECT b.to_segment FROM history b WHERE b.ruleset = h.ruleset AND b.customer_key = h.customer_key
					AND b.segmentation = ?2 AND b.run_id < ?1 ORDER BY b.id DESC LIMIT 1), ''), count(*)
				FROM history h WHERE h.ruleset = 'retail' AND h.run_id = ?1 AND h.segmentation = ?3 AND h.to_segment = ?4 GROUP BY 1, 2`,
				r.id, s, retailChurn[0], retailChurn[1])
			if err != nil {
				t.Fatal(err)
			}
			for class, n := range countKeyed(t, rows, 2) {
				churned[class] += n
			}
		}
	}
	label := pr.start.Format(time.DateOnly) + " – " + pr.end.Format(time.DateOnly)
	for class, n := range atStart {
		if n > 0 && class != retailChurn[0]+"/"+retailChurn[1] {
			f["churn/"+class+"/"+label] = float64(churned[class]) / float64(n)
		}
	}
}

// actionFigures counts the queue's actions of the period by action,
// status and the segments they were queued with.
func (p *reportProject) actionFigures(db *sql.DB, f map[string]float64, since time.Time) {
	t := p.t
	rows, err := db.Query(`SELECT action, status, coalesce(segments, '{}'), count(*) FROM actions
		WHERE ruleset = 'retail' AND created_at >= ? AND action NOT LIKE 'sync.%' GROUP BY 1, 2, 3`, since.UTC().Format("2006-01-02T15:04:05.000000Z"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var action, status, segments string
		var n int
		if err := rows.Scan(&action, &status, &segments, &n); err != nil {
			t.Fatal(err)
		}
		var seg map[string]string
		if err := json.Unmarshal([]byte(segments), &seg); err != nil {
			t.Fatal(err)
		}
		for _, s := range retailSegmentations {
			f["actions/"+s+"/"+action+"/"+seg[s]+"/"+status] += float64(n)
		}
		f["by-action/"+action+"/"+status] += float64(n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// effectFigures are the churn shares tierflow effects computes, at the
// longest horizon, as the effects chart shows them.
func (p *reportProject) effectFigures(f map[string]float64) {
	var doc struct {
		RuleSets []jobs.EffectsReport `json:"rulesets"`
	}
	out := p.run(exitOK, "effects", "--since", "2020-01-01", "--format", "json").stdout
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		p.t.Fatal(err)
	}
	ef := doc.RuleSets[0]
	h := slices.Max(ef.Horizons)
	for _, e := range ef.Effects {
		if e.Horizon == h && e.Treated+e.HeldOut > 0 {
			k := "effects/" + e.Action + "/" + e.Segmentation + "." + e.Segment + "/"
			f[k+"treated"], f[k+"held_out"] = e.Churned.Treated, e.Churned.HeldOut
		}
	}
}
