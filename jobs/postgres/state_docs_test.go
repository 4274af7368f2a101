package postgres_test

import (
	"context"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// sqlBlocks returns the ```sql blocks of the markdown file path that
// come after the heading heading and before the next heading of its
// level or above.
func sqlBlocks(t *testing.T, path, heading string) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no heading %q", path, heading)
	}
	text = text[i+len(heading)+2:]
	level := heading[:strings.IndexByte(heading, ' ')+1]
	if j := regexp.MustCompile(`\n#{1,` + strconv.Itoa(len(level)-1) + `} `).FindStringIndex(text); j != nil {
		text = text[:j[0]]
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("%s: %q has no sql block", path, heading)
	}
	return out
}

// The queries docs/operations.md gives for the state tables run on a
// store after an apply and return rows: customer 42's segments and
// cooldowns, and the segment sizes, which add up to every customer in
// every segmentation.
func TestStateTablesDocs(t *testing.T) {
	t.Parallel()
	s := newStore(t, 300)
	o := opts()
	o.Guard.AllowLarge = true
	o.InitialActions = true
	applyAt(t, s, retail(t), day(0), o)
	for _, b := range sqlBlocks(t, "../../docs/operations.md", "## The state tables") {
		for _, q := range strings.Split(b, ";") {
			if strings.TrimSpace(stripComments(q)) == "" {
				continue
			}
			rows, err := s.DB().Queryx(q)
			if err != nil {
				t.Fatalf("docs/operations.md: %s: %v", q, err)
			}
			n, sum := 0, 0
			for rows.Next() {
				m := map[string]any{}
				if err := rows.MapScan(m); err != nil {
					t.Fatal(err)
				}
				n++
				if c, ok := m["count"].(int64); ok {
					sum += int(c)
				}
			}
			rows.Close()
			if n == 0 {
				t.Errorf("docs/operations.md: %s: no rows", q)
			}
			if strings.Contains(q, "count(*)") && sum != 3*300 {
				t.Errorf("docs/operations.md: %s: the segments hold %d customers, want 3 segmentations of 300", q, sum)
			}
		}
	}
}

// stripComments removes the -- comments of SQL text.
func stripComments(q string) string {
	return regexp.MustCompile(`--[^\n]*`).ReplaceAllString(q, "")
}

// The read-only role docs/ci.md sets up can plan: with the grants it
// lists, and no more, a plan of a rule set with state reads its facts
// (through a view in the analytics schema, as the doc's source) and its
// state, both joined and separately, in full and incrementally.
func TestCIRoleCanPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dbURL := newStoreURL(t, 200)
	rs := retail(t, storetest.WithoutCoverage...) // coverage makes a run read everyone
	o := opts()
	o.Guard.AllowLarge = true
	applyAt(t, s, rs, day(0), o)
	exec(t, s, `CREATE SCHEMA analytics`)
	exec(t, s, `CREATE VIEW analytics.customer_facts AS SELECT * FROM public.customer_facts`)

	var db string
	if err := s.DB().QueryRow(`SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	role := "tierflow_ci_" + db // roles are the server's, databases the test's
	var block string
	for _, b := range sqlBlocks(t, "../../docs/ci.md", "### A read-only database role") {
		if strings.Contains(b, "CREATE ROLE tierflow_ci") {
			block = b
		}
	}
	if block == "" {
		t.Fatal("docs/ci.md: no block creates the role tierflow_ci")
	}
	t.Cleanup(func() {
		exec(t, s, `DROP OWNED BY `+role)
		exec(t, s, `DROP ROLE `+role)
	})
	for _, q := range strings.Split(strings.ReplaceAll(block, "tierflow_ci", role), ";") {
		if strings.TrimSpace(stripComments(q)) != "" {
			exec(t, s, q)
		}
	}

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	ci, err := postgres.Open(ctx, postgres.Config{URL: u.String()})
	if err != nil {
		t.Fatal(err)
	}
	defer ci.Close()
	other, err := postgres.OpenDatabase(ctx, u.String(), "facts")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for name, src := range map[string]jobs.FactsSource{"joined": ci.Source("analytics.customer_facts"), "separate": other.Source("analytics.customer_facts")} {
		for _, incremental := range []bool{false, true} {
			o := opts()
			o.Incremental = incremental // reads the state tally too
			out, err := jobs.Plan(ctx, ci, jobs.FactsByRuleSet{rs.Name: src}, rs, o)
			if err != nil {
				t.Fatalf("plan as the CI role, facts %s, incremental %v: %v", name, incremental, err)
			}
			if out.Report.Initial || out.Report.Customers != 200 {
				t.Fatalf("plan as the CI role, facts %s, incremental %v: %d customers, initial %v; want the 200 with their state",
					name, incremental, out.Report.Customers, out.Report.Initial)
			}
			if name == "joined" && incremental && (out.Report.Incremental == nil || out.Report.Incremental.ReadsAll != "") {
				t.Fatalf("plan as the CI role, facts joined, incremental: read everyone (%+v); want the changed customers read", out.Report.Incremental)
			}
		}
	}
	if _, err := jobs.Apply(ctx, ci, jobs.FactsByRuleSet{rs.Name: ci.Source("analytics.customer_facts")}, rs, opts()); err == nil {
		t.Fatal("the CI role could apply")
	}
}
