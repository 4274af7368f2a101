package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// explainRunRows are three customers of the retail example, as of
// 2024-07-01: 1 is a key customer whose spend halves the next day (it
// goes at risk, and a win-back call fires), 2 a small one who stays, 3
// a regular one.
const (
	explainRunDay1 = "1,20000,20000,6,2020-01-01,2024-06-20,online\n2,300,200,1,2021-03-01,2024-06-01,store\n3,2000,1800,3,2022-05-01,2024-06-25,partner\n"
	explainRunDay2 = "1,12000,30000,6,2020-01-01,2024-06-20,online\n2,300,200,1,2021-03-01,2024-06-01,store\n3,2000,1800,3,2022-05-01,2024-06-25,partner\n"
)

// explainRunDoc is explain's JSON, as much as these tests read of it.
type explainRunDoc struct {
	Explanations []struct {
		Customer string `json:"customer"`
		AsOf     string `json:"as_of"`
		Run      *struct {
			ID       int64  `json:"id"`
			Verdict  string `json:"verdict"`
			Recorded struct {
				Moves []struct {
					Segmentation, From, To string
				} `json:"moves"`
				Actions []struct {
					Action string `json:"action"`
				} `json:"actions"`
			} `json:"recorded"`
			Evaluated struct {
				Moves []map[string]string `json:"moves"`
			} `json:"evaluated"`
		} `json:"run"`
		Segmentations []struct {
			Name     string `json:"name"`
			Previous struct {
				Segment string `json:"segment"`
			} `json:"previous"`
		} `json:"segmentations"`
	} `json:"explanations"`
}

// explain --run on the embedded store: the run that moved a customer,
// by id and by as-of, in each format; a customer it did not touch; the
// same run once the facts have changed; and every refusal.
func TestExplainRunSQLite(t *testing.T) {
	t.Parallel()
	dir, write := fileProject(t, "", explainRunDay1)
	config := filepath.Join(dir, "tierflow.yaml")
	cli := func(code int, args ...string) result {
		t.Helper()
		return runCLI(t, nil, append(args, "--config", config)...).want(t, code)
	}
	cli(exitOK, "migrate")
	cli(exitOK, "apply", "--quiet", "--as-of", "2024-07-01")
	write("facts.csv", retailHeader+explainRunDay2)
	cli(exitOK, "apply", "--quiet", "--as-of", "2024-07-02", "--allow-large-change")

	moved := regexp.MustCompile(`run 2 moved 1 in lifecycle from active to at_risk, and (queued|withheld) winback_call \(action 1, now (pending|held_out)\)\.\n` +
		`Re-evaluated at run 2's as-of, from the state before it and today's facts, the rules agree with the record:\n`)
	byID := cli(exitOK, "explain", "--customer", "1", "--run", "2")
	if !strings.HasPrefix(byID.stdout, "customer 1, rule set 零售客户分群 (retail), run 2 as of 2024-07-02\n\n") || !moved.MatchString(byID.stdout) ||
		!strings.Contains(byID.stdout, "生命周期 (lifecycle): active -> at_risk\n") {
		t.Errorf("explain --run 2 of the customer it moved:\n%s", byID.stdout)
	}
	if byAsOf := cli(exitOK, "explain", "--customer", "1", "--run", "2024-07-02"); byAsOf.stdout != byID.stdout {
		t.Errorf("explain --run 2024-07-02 is not --run 2:\n%s", byAsOf.stdout)
	}
	var doc explainRunDoc
	if r := cli(exitOK, "explain", "--customer", "1", "--run", "2", "--format", "json"); json.Unmarshal([]byte(r.stdout), &doc) != nil ||
		len(doc.Explanations) != 1 || doc.Explanations[0].Run == nil || doc.Explanations[0].Run.Verdict != "agrees" ||
		len(doc.Explanations[0].Run.Recorded.Actions) != 1 || doc.Explanations[0].Run.Recorded.Actions[0].Action != "winback_call" ||
		doc.Explanations[0].AsOf != "2024-07-02T00:00:00Z" {
		t.Errorf("explain --run 2 --format json:\n%s", r.stdout)
	}
	if r := cli(exitOK, "explain", "--customer", "1", "--run", "2", "--format", "markdown"); !strings.Contains(r.stdout, "| recorded by run 2 | lifecycle: active → at_risk | winback_call (action 1, now") {
		t.Errorf("explain --run 2 --format markdown:\n%s", r.stdout)
	}
	if r := cli(exitOK, "explain", "--customer", "2", "--run", "2"); !strings.Contains(r.stdout, "run 2 recorded no move and no action for customer 2.\nRe-evaluated") ||
		!strings.Contains(r.stdout, "the rules agree with the record") {
		t.Errorf("explain --run 2 of a customer it did not touch:\n%s", r.stdout)
	}

	// Customer 1's spend is back: run 2's record stands, today's
	// evaluation of it differs, and says it is not the record.
	write("facts.csv", retailHeader+explainRunDay1)
	r := cli(exitOK, "explain", "--customer", "1", "--run", "2")
	for _, want := range []string{
		"The facts differ from those of run 2: re-evaluated at run 2's as-of, from the state before it and today's facts, the rules do not give what it recorded.\n",
		"  recorded by run 2:   lifecycle active -> at_risk; ",
		"  today's evaluation:  no move, no action\n",
		"What follows is today's evaluation, not the record",
		"生命周期 (lifecycle): active (unchanged)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain --run 2 after the facts changed lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "agree") {
		t.Errorf("explain --run 2 after the facts changed says they agree:\n%s", r.stdout)
	}
	explainRunRefusals(t, cli, write)
}

// explainRunRefusals: each mistake with --run is an error that says what
// to do, and a run that wrote nothing is not explained.
func explainRunRefusals(t *testing.T, cli func(int, ...string) result, write func(name, body string)) {
	t.Helper()
	write("facts.csv", retailHeader+strings.NewReplacer("20000,20000", "50,50", "300,200", "90000,200").Replace(explainRunDay1))
	cli(exitFailure, "apply", "--quiet", "--as-of", "2024-07-03") // blocked: it moves too many
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--customer", "1", "--run", "99"}, "explain: there is no run 99 (tierflow runs lists the runs; plan records none)"},
		{[]string{"--customer", "1", "--run", "3"}, "explain: run 3 of retail was blocked: it wrote no move and queued no action to explain"},
		{[]string{"--customer", "1", "--run", "2024-07-15"}, "explain: no succeeded apply of retail is as of 2024-07-15; the nearest: run 2 as of 2024-07-02 (give one with --run"},
		{[]string{"--customer", "1", "--run", "2024-06-15"}, "the nearest: run 1 as of 2024-07-01 ("},
		{[]string{"--customer", "1", "--run", "soon"}, `explain: --run: "soon" is neither a run id (tierflow runs lists them) nor an as-of such as 2024-07-30`},
		{[]string{"--customer", "1", "--run", "0"}, `explain: --run: "0" is no run id`},
		{[]string{"--run", "2"}, "explain: --run needs --customer KEY"},
		{[]string{"--customer", "1", "--run", "2", "--facts", "customer.yaml"}, "explain: --run explains a run recorded in the state store; a --facts file has no runs"},
		{[]string{"--customer", "1", "--run", "2", "--as-of", "2024-07-02"}, "explain: --run explains the run at its own as-of: give the as-of to --run to pick the run (--run 2024-07-02), without --as-of"},
		{[]string{"--customer", "404", "--run", "2"}, `explain: run 2 is re-evaluated with today's facts: no customer "404" in `},
	} {
		if r := cli(exitFailure, append([]string{"explain"}, c.args...)...); !strings.Contains(r.stderr, c.want) {
			t.Errorf("explain %v: stderr\n%s\nwant it to say %q", c.args, r.stderr, c.want)
		}
	}
}

// explain --run of a run of another rule set than --ruleset names.
func TestExplainRunOtherRuleSet(t *testing.T) {
	t.Parallel()
	dir, write := fileProject(t, "  - rules: rules/copy.yaml\n    source: {file: facts.csv}\n", explainRunDay1)
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	write("rules/copy.yaml", strings.Replace(string(src), "ruleset: retail\n", "ruleset: retail_copy\n", 1))
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	runCLI(t, nil, "apply", "--quiet", "--as-of", "2024-07-01", "--config", config).want(t, exitOK)
	r := runCLI(t, nil, "explain", "--customer", "1", "--run", "1", "--ruleset", "retail_copy", "--config", config).want(t, exitFailure)
	if want := "explain: run 1 is of rule set retail, not retail_copy (--ruleset): tierflow runs --ruleset retail_copy lists the runs of retail_copy"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr\n%s\nwant %q", r.stderr, want)
	}
	r = runCLI(t, nil, "explain", "--customer", "1", "--run", "2024-07-01", "--config", config).want(t, exitFailure)
	if want := "several rule sets are configured (retail, retail_copy): choose the one whose run as of 2024-07-01 to explain with --ruleset"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr\n%s\nwant %q", r.stderr, want)
	}
	r = runCLI(t, nil, "explain", "--customer", "1", "--run", "2", "--config", config).want(t, exitOK)
	if !strings.HasPrefix(r.stdout, "customer 1, rule set 零售客户分群 (retail_copy), run 2 as of 2024-07-01\n\nrun 2 moved 1 in value_tier from (none) to key, in lifecycle from (none) to active and in source from (none) to online.\n") {
		t.Errorf("explain --run 2, a first run of retail_copy:\n%s", r.stdout)
	}
}

// explain --run on PostgreSQL: the run that queued a customer's win-back
// call agrees with its record, until the customer's facts change.
func TestExplainRunPostgres(t *testing.T) {
	t.Parallel()
	d := newDBEnv(t, 300)
	d.run(t, "migrate").want(t, exitOK)
	d.run(t, "apply", "--as-of", "2024-07-01", "--quiet").want(t, exitOK)
	d.exec(t, `UPDATE customer_facts SET spend_prev_12m = spend_12m * 3 WHERE customer_id % 2 = 0`)
	d.run(t, "apply", "--as-of", "2024-07-02", "--allow-large-change", "--quiet").want(t, exitOK)
	var key string
	var run int64
	if err := d.db.QueryRow(`SELECT customer_key, run_id FROM tierflow.actions WHERE action = 'winback_call' ORDER BY id LIMIT 1`).Scan(&key, &run); err != nil {
		t.Fatal(err)
	}
	var doc explainRunDoc
	r := d.run(t, "explain", "--customer", key, "--run", fmt.Sprint(run), "--format", "json").want(t, exitOK)
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Explanations) != 1 || doc.Explanations[0].Run == nil {
		t.Fatalf("explain --run --format json: %v\n%s", err, r.stdout)
	}
	x := doc.Explanations[0]
	if x.Run.Verdict != "agrees" || x.Run.ID != run || len(x.Run.Recorded.Actions) == 0 || x.Run.Recorded.Actions[0].Action != "winback_call" ||
		len(x.Run.Recorded.Moves) == 0 || x.Run.Recorded.Moves[0].To != "at_risk" {
		t.Errorf("explain --run %d of customer %s, whose win-back call it queued:\n%s", run, key, r.stdout)
	}
	for _, s := range x.Segmentations {
		if s.Name == "lifecycle" && s.Previous.Segment == "at_risk" {
			t.Errorf("the evaluation starts from the state after run %d, not before it:\n%s", run, r.stdout)
		}
	}
	d.exec(t, `UPDATE customer_facts SET spend_prev_12m = spend_12m WHERE customer_id = $1`, key)
	r = d.run(t, "explain", "--customer", key, "--run", fmt.Sprint(run)).want(t, exitOK)
	if !strings.Contains(r.stdout, fmt.Sprintf("The facts differ from those of run %d", run)) || !strings.Contains(r.stdout, fmt.Sprintf("recorded by run %d:", run)) {
		t.Errorf("explain --run %d after customer %s's facts changed:\n%s", run, key, r.stdout)
	}
}
