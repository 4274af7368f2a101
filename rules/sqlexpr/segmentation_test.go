package sqlexpr_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// firstRunScope reads facts from tb's columns and a first run's state:
// no previous segment, no days in it.
func firstRunScope(tb *table, rs *rules.RuleSet) sqlexpr.Scope {
	facts := tb.scope(rs.Zone())
	state := map[string]sqlexpr.Column{}
	for _, s := range rs.Segmentations {
		v := rules.VarsFor(s.Name)
		state[v.Previous] = sqlexpr.Column{SQL: "''", Kind: sqlexpr.String}
		state[v.PreviousRank] = sqlexpr.Column{SQL: "(0)::bigint", Kind: sqlexpr.Int}
		state[v.DaysInPrevious] = sqlexpr.Column{SQL: "(0)::bigint", Kind: sqlexpr.Int}
	}
	return func(name string) (sqlexpr.Column, bool) {
		if c, ok := state[name]; ok {
			return c, true
		}
		if strings.Contains(name, ".") && name != rules.AsOfVar && name != rules.AsOfDateVar {
			return sqlexpr.Column{}, false // the new segment of another segmentation: not in this test
		}
		return facts(name)
	}
}

// compareMatches classifies every row of tb in PostgreSQL and with the
// engine (a first run: empty state), segmentation by segmentation, and
// returns how many segmentations translated and rows were compared.
func compareMatches(t *testing.T, tb *table, rs *rules.RuleSet, q func(string) []string) (translated, rows, inexact int) {
	t.Helper()
	e := engine.New(rs)
	facts := len(rs.Facts.Fields)
	for si, s := range rs.Segmentations {
		m, err := sqlexpr.MatchSegmentation(rs, si, firstRunScope(tb, rs))
		if err != nil {
			continue
		}
		translated++
		got := q("SELECT " + m.Outcome + " FROM " + tb.name + " f ORDER BY k")
		for k, out := range got {
			if out == sqlexpr.Engine {
				inexact++
				continue
			}
			rows++
			res := e.Evaluate(asOf, &engine.Customer{Key: strconv.Itoa(k), Facts: tb.rows[k][:facts]})
			want := res.Segments[si].Segment
			for _, re := range res.Errors {
				if strings.HasPrefix(re.Rule, "segmentations."+s.Name+".") {
					want = sqlexpr.Failed
				}
			}
			if out != want {
				t.Errorf("%s, row %d %v: PostgreSQL matches %q, the engine %q\n%s", s.Name, k, tb.rows[k], out, want, m.Outcome)
				return
			}
		}
	}
	return translated, rows, inexact
}

func TestMatchSegmentationAgreesWithTheEngine(t *testing.T) {
	db := pgtest.DB(t)
	q := func(sql string) []string {
		t.Helper()
		rows, err := db.Query(sql)
		if err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		return out
	}
	r := rand.New(rand.NewPCG(3, 5))

	src, err := os.ReadFile("../../examples/retail/retail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	retail, err := rules.Compile("retail.yaml", src, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb := factTable("retail_match", retail, 2000, r)
	tb.create(t, db)
	n, rows, inexact := compareMatches(t, tb, retail, q)
	if n != len(retail.Segmentations) {
		t.Errorf("%d of retail's %d segmentations translate", n, len(retail.Segmentations))
	}
	t.Logf("retail: %d segmentations, %d customers classified alike, %d left to the engine", n, rows, inexact)

	// Generated segmentations: three conditions in order, then the
	// fallback, so that errors and inexact rows of later conditions count
	// only where the earlier ones are false.
	base, err := rules.Compile("gen.yaml", []byte(fmt.Sprintf(genSchema, "UTC", "true")), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gt := factTable("gen_match", base, 300, r)
	gt.create(t, db)
	g := &gen{r: r}
	total, rows, inexact := 0, 0, 0
	for total < 100 {
		conds := []string{g.boolean(3), g.boolean(2), g.boolean(3)}
		y := fmt.Sprintf("%s\n      - name: \"y2\"\n        when: %s\n      - name: \"y3\"\n        when: %s",
			strconv.Quote(conds[0]), strconv.Quote(conds[1]), strconv.Quote(conds[2]))
		rs, err := rules.Compile("gen.yaml", []byte(fmt.Sprintf(genSchema, "UTC", y)), rules.Options{})
		if err != nil {
			continue
		}
		total++
		_, nr, ni := compareMatches(t, gt, rs, q)
		rows, inexact = rows+nr, inexact+ni
		if t.Failed() {
			t.Fatalf("conditions %q", conds)
		}
	}
	t.Logf("generated: %d segmentations, %d customers classified alike, %d left to the engine", total, rows, inexact)
	if rows == 0 {
		t.Fatal("nothing compared")
	}
}
