package main

import (
	"database/sql"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// followUpsGuide is the follow-ups guide, whose rule file and samples
// this file checks.
const followUpsGuide = "../../docs/follow-ups.md"

// guideRuleFile is the guide's rule file: the yaml block starting with
// ruleset: shop.
func guideRuleFile(t *testing.T) string {
	t.Helper()
	for _, b := range codeBlocks(t, followUpsGuide, "yaml") {
		if strings.HasPrefix(b, "ruleset: shop") {
			return b
		}
	}
	t.Fatal("docs/follow-ups.md lost its rule file (a yaml block starting with ruleset: shop)")
	return ""
}

// The guide's rule file passes check --strict and its own tests, with
// every rule matched.
func TestFollowUpsGuideRules(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(path, []byte(guideRuleFile(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, nil, "check", "--strict", path).want(t, exitOK)
	runCLI(t, nil, "test", "--min-coverage", "100", path).want(t, exitOK)
}

// guideMonths are the as-of times of the guide's project: it applies at
// each but the last, for which it only writes the facts.
var guideMonths = []string{"2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01", "2024-10-01"}

// guideCustomers is the size of the guide's project.
const guideCustomers = 2000

// guideProjectOf builds the project the guide's samples come from: the
// guide's rule file on the embedded store, reading facts.csv, applied
// once a month from May to September 2024, with October's facts ready.
// Each month a customer orders (their days since the last order fall to
// 2) with a chance of one in four, one in two after a win-back call was
// queued for them; and 70% of the care calls queued are reported reached
// five days later. It returns the config's path.
func guideProjectOf(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules/shop.yaml": guideRuleFile(t),
		"tierflow.yaml": `database: {path: state.db}
rulesets:
  - rules: rules/shop.yaml
    sources: [{file: facts.csv}]
`,
	})
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	days := make([]int, guideCustomers+1)
	called := map[string]bool{}
	for i := range days {
		days[i] = i * 37 % 100
	}
	for m, month := range guideMonths {
		if m > 0 {
			for i := 1; i <= guideCustomers; i++ {
				h := fnv.New32a()
				fmt.Fprintf(h, "%d/%d", i, m)
				chance := h.Sum32() % 4
				switch {
				case chance == 0, chance == 1 && called[fmt.Sprint(i)]:
					days[i] = 2
				default:
					days[i] += 30
				}
			}
		}
		var facts strings.Builder
		facts.WriteString("customer_id,spend_12m,days_since_order\n")
		for i := 1; i <= guideCustomers; i++ {
			fmt.Fprintf(&facts, "%d,%d,%d\n", i, i*7919%12500, days[i])
		}
		writeFiles(t, dir, map[string]string{"facts.csv": facts.String()})
		if m == len(guideMonths)-1 {
			break
		}
		runCLI(t, nil, "apply", "--quiet", "--allow-large-change", "--as-of", month, "--config", config).want(t, exitOK)
		at, _ := time.Parse("2006-01-02", month)
		reportOutcomes(t, filepath.Join(dir, "state.db"), at.AddDate(0, 0, 5), called)
	}
	return config
}

// reportOutcomes marks 70% of the pending care calls reached at at (by
// their customer and run, not their ids: stages may write in any order),
// as docs/queue.md does in SQL, and adds the customers of pending win-back
// calls to called.
func reportOutcomes(t *testing.T, state string, at time.Time, called map[string]bool) {
	t.Helper()
	db, err := sql.Open("sqlite", state)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stamp := at.UTC().Format("2006-01-02T15:04:05.000000Z")
	if _, err := db.Exec(`UPDATE actions SET status = 'done', outcome = 'reached', outcome_at = ?1, finished_at = ?1
		WHERE action = 'care_call' AND status = 'pending' AND (CAST(customer_key AS INTEGER) + run_id) % 10 < 7`, stamp); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT customer_key FROM actions WHERE action = 'winback_call' AND status = 'pending'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		called[c] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// followUpsSamples returns the text blocks of the guide that follow the
// line "$ " + command.
func followUpsSamples(t *testing.T, command string) []string {
	t.Helper()
	var out []string
	for _, b := range codeBlocks(t, followUpsGuide, "text") {
		if first, rest, ok := strings.Cut(b, "\n"); ok && first == "$ "+command {
			out = append(out, rest)
		}
	}
	if len(out) == 0 {
		t.Fatalf("docs/follow-ups.md has no text block starting with the line %q", "$ "+command)
	}
	return out
}

// The guide's samples are what the commands print on the project it
// describes.
func TestFollowUpsGuideSamples(t *testing.T) {
	t.Parallel()
	config := guideProjectOf(t)
	samples := []struct {
		command string
		args    []string
	}{
		{"tierflow plan --as-of 2024-10-01", []string{"plan", "--quiet", "--as-of", "2024-10-01"}},
		{"tierflow explain --customer 41 --as-of 2024-10-01", []string{"explain", "--customer", "41", "--as-of", "2024-10-01"}},
		{"tierflow coverage", []string{"coverage"}},
		{"tierflow effects --since 120d --horizons 90", []string{"effects", "--since", "120d", "--horizons", "90"}},
	}
	for _, s := range samples {
		r := runCLI(t, nil, append(s.args, "--config", config)...)
		if r.code != exitOK {
			t.Fatalf("%s: %s", s.command, r)
		}
		for _, sample := range followUpsSamples(t, s.command) {
			if !excerptOf(sample, r.stdout) {
				t.Errorf("docs/follow-ups.md: the output of %s differs from\n%s\nit is now\n%s", s.command, sample, r.stdout)
			}
		}
	}
}
