package sqlexpr_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// stickySchema is genSchema's facts with a segmentation whose segments
// have min_stay and downgrade_grace.
const stickySchema = `ruleset: sticky
` + genFacts + `segmentations:
  - name: x
    segments:
      - name: "y"
        when: %s
        min_stay: 30d
        downgrade_grace: 14d
      - name: y2
        when: %s
        downgrade_grace: 7d
      - name: y3
        when: %s
        min_stay: 3d
      - name: z
        fallback: true
`

// nearDays is a time d days before asOf, or a microsecond either side,
// or in the future.
func nearDays(r *rand.Rand, days ...int) time.Time {
	t := asOf.Add(-time.Duration(days[r.IntN(len(days))]) * 24 * time.Hour)
	return t.Add(time.Duration(r.IntN(3)-1) * time.Microsecond)
}

func TestDecideAgreesWithTheEngine(t *testing.T) {
	db := pgtest.DB(t)
	r := rand.New(rand.NewPCG(13, 17))
	base, err := rules.Compile("sticky.yaml", []byte(fmt.Sprintf(stickySchema, "c", "b", "true")), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The previous assignment: a segment (or none, or one the rules no
	// longer have), entered and pending around the thresholds.
	tb, prev := previousTable(t, db, "sticky", base, r, []string{"", "y", "y2", "y3", "z", "gone"},
		[]int{0, 1, 3, 14, 30, 31, 400, -2}, 2, 0)
	facts := len(base.Facts.Fields)
	g := &gen{r: r}
	compared, kept := 0, 0
	for n := 0; n < 60; {
		rs, err := rules.Compile("sticky.yaml", []byte(fmt.Sprintf(stickySchema, strconv.Quote(g.boolean(2)), strconv.Quote(g.boolean(2)), strconv.Quote(g.boolean(1)))), rules.Options{})
		if err != nil {
			continue
		}
		n++
		m, err := sqlexpr.MatchSegmentation(rs, 0, firstRunScope(tb, rs))
		if err != nil {
			t.Fatal(err)
		}
		d := sqlexpr.Decide(rs.Segmentations[0], "f.match_outcome", literal(asOf), prev)
		immutable(t, db, tb, "the decision of "+rs.Segmentations[0].Name, []string{"match_outcome"}, d.Segment, d.Since, d.PendingSince, d.Reason)
		q := "SELECT COALESCE(" + d.Segment + ", ''), " + utc(d.Since) + ", " + utc(d.PendingSince) + ", COALESCE(" + d.Reason + ", '')" +
			" FROM (SELECT f.*, " + m.Outcome + " AS match_outcome FROM " + tb.name + " f) f ORDER BY k"
		got := decisions(t, db, q)
		e := engine.New(rs)
		for k, row := range tb.rows {
			if got[k][0] == sqlexpr.Engine {
				continue
			}
			c, _ := previousCustomer(k, row, facts)
			res := e.Evaluate(asOf, c)
			dec := res.Segments[0]
			want := [4]string{dec.Segment, stamp(dec.Since), stamp(dec.PendingSince), dec.Reason.String()}
			if got[k] != want {
				t.Fatalf("row %d %v: PostgreSQL decides %q, the engine %q\nconditions: %s | %s | %s", k, row, got[k], want,
					rs.Segmentations[0].Segments[0].When.Source, rs.Segmentations[0].Segments[1].When.Source, rs.Segmentations[0].Segments[2].When.Source)
			}
			compared++
			if dec.Reason == engine.ReasonMinStay || dec.Reason == engine.ReasonGrace {
				kept++
			}
		}
	}
	t.Logf("%d decisions alike, %d of them kept by min_stay or downgrade_grace", compared, kept)
	if kept == 0 {
		t.Fatal("no customer was kept by min_stay or downgrade_grace: the data misses the thresholds")
	}
}

// previousTable is factTable of rs's facts, n = 400 rows, with each
// row's previous assignment in one segmentation: a segment of segs (""
// for none), entered a number of days before the as-of (one of
// sinceDays, a microsecond either side) and, for one row in pendingOneIn,
// a downgrade pending since around 0, 1, 7, 8, 14 or 15 days; and the
// columns the SQL reads it from. With lastActions > 0 each row also has
// that many last-action times (columns last_0...), none for one row in
// three, the others around 0, 1, 7 or 30 days before the as-of.
func previousTable(t *testing.T, db *sql.DB, name string, rs *rules.RuleSet, r *rand.Rand, segs []string, sinceDays []int, pendingOneIn, lastActions int) (*table, sqlexpr.Previous) {
	tb := factTable(name, rs, 400, r)
	facts := len(rs.Facts.Fields)
	tb.cols = append(tb.cols[:facts:facts], column{name: "prev_segment", kind: sqlexpr.String},
		column{name: "prev_since", kind: sqlexpr.Time}, column{name: "prev_pending", kind: sqlexpr.Time, nullable: true})
	for k := range tb.rows {
		row := tb.rows[k][:facts:facts]
		seg := segs[r.IntN(len(segs))]
		var since, pending any = nil, nil
		if seg != "" {
			since = nearDays(r, sinceDays...)
			if r.IntN(pendingOneIn) == 0 {
				pending = nearDays(r, 0, 1, 7, 8, 14, 15, -1)
			}
		}
		row = append(row, seg, since, pending)
		for range lastActions {
			var last any
			if r.IntN(3) > 0 {
				last = nearDays(r, 0, 1, 6, 7, 8, 29, 30, 31, 400, -1)
			}
			row = append(row, last)
		}
		tb.rows[k] = row
	}
	for a := range lastActions {
		tb.cols = append(tb.cols, column{name: "last_" + strconv.Itoa(a), kind: sqlexpr.Time, nullable: true})
	}
	tb.create(t, db)
	return tb, sqlexpr.Previous{Segment: `NULLIF(f."prev_segment", '')`, Since: `f."prev_since"`, PendingSince: `f."prev_pending"`}
}

// previousCustomer is row k of a previousTable as the engine's customer,
// with its previous assignment (zero for none) and last-action times.
func previousCustomer(k int, row []any, facts int) (*engine.Customer, engine.Assignment) {
	c := &engine.Customer{Key: strconv.Itoa(k), Facts: row[:facts]}
	var a engine.Assignment
	if row[facts] != "" {
		a = engine.Assignment{Segment: row[facts].(string), Since: row[facts+1].(time.Time)}
		if row[facts+2] != nil {
			a.PendingSince = row[facts+2].(time.Time)
		}
		c.State.Segments = []engine.Assignment{a}
	}
	for _, last := range row[facts+3:] {
		var at time.Time
		if last != nil {
			at = last.(time.Time)
		}
		c.State.LastActions = append(c.State.LastActions, at)
	}
	return c, a
}

func utc(x string) string {
	return "COALESCE(to_char((" + x + `) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '')`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000")
}

func decisions(t *testing.T, db *sql.DB, q string) [][4]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var out [][4]string
	for rows.Next() {
		var d [4]string
		if err := rows.Scan(&d[0], &d[1], &d[2], &d[3]); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return out
}
