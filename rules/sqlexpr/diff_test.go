package sqlexpr_test

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	_ "github.com/lib/pq"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// A differential test: every expression that translates gives, on every
// row of random facts (nulls, zeros, huge and tiny numbers, the smallest
// and largest integers, dates around the as-of and far from it, strings
// beyond ASCII), the same value or the same error in PostgreSQL as in
// the engine's program, except on the rows its Inexact part leaves to
// the engine.

// column is one fact or state variable of the table the facts are in.
type column struct {
	name     string
	kind     sqlexpr.Kind
	nullable bool
	choices  []string // for a state variable: the values it takes
}

// table holds rows of random values for cols, by row then column; nil
// is a null.
type table struct {
	name string
	cols []column
	rows [][]any
}

var asOf = time.Date(2024, 6, 30, 13, 30, 0, 0, time.UTC)

func randInt(r *rand.Rand) int {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return [...]int{math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1 << 32, -(1 << 31)}[r.IntN(6)]
	case 2:
		return r.IntN(3) - 1
	case 3:
		return r.IntN(1<<40) - 1<<39
	}
	return r.IntN(2000) - 500
}

func randFloat(r *rand.Rand) float64 {
	switch r.IntN(10) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return [...]float64{math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e300, -1e300, 1e-300, 1e160, 1e-160}[r.IntN(8)]
	case 3:
		return float64(r.IntN(11)-5) / 2 // halves, for round
	case 4:
		return math.Nextafter(0.5, 0) // 0.49999999999999994
	case 5:
		return float64(r.IntN(1<<53)) * math.Pow(2, float64(r.IntN(40)-20))
	}
	return (r.Float64() - 0.3) * 20000
}

func randTime(r *rand.Rand, date bool) time.Time {
	var t time.Time
	switch r.IntN(6) {
	case 0:
		t = asOf.Add(-time.Duration(r.IntN(72)) * time.Hour)
	case 1:
		// A microsecond either side of whole days before and after the
		// as-of: where day counts compared with constants turn.
		days := [...]int{0, 1, -1, 7, 8, 90, 91, 365, 366, -7}[r.IntN(10)]
		t = asOf.Add(time.Duration(days)*24*time.Hour*time.Duration(1-2*r.IntN(2)) + time.Duration(r.IntN(3)-1)*time.Microsecond)
	case 2:
		t = [...]time.Time{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
			time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1700, 3, 1, 0, 0, 0, 0, time.UTC)}[r.IntN(4)]
	default:
		t = asOf.Add(-time.Duration(r.Int64N(int64(3*365*24*time.Hour))) / time.Microsecond * time.Microsecond)
	}
	if date {
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(time.Microsecond)
}

var strs = []string{"", "a", "b", "vip", "online", "store", "Ab", "é", "日本", "a'b", "ß", "z"}

func randValue(r *rand.Rand, c column, date bool) any {
	if c.nullable && r.IntN(5) == 0 {
		return nil
	}
	if c.choices != nil {
		return c.choices[r.IntN(len(c.choices))]
	}
	switch c.kind {
	case sqlexpr.Int:
		return randInt(r)
	case sqlexpr.Float:
		return randFloat(r)
	case sqlexpr.String:
		return strs[r.IntN(len(strs))]
	case sqlexpr.Bool:
		return r.IntN(2) == 0
	case sqlexpr.Time:
		return randTime(r, date)
	}
	panic(c.kind)
}

var sqlTypes = map[sqlexpr.Kind]string{sqlexpr.Int: "bigint", sqlexpr.Float: "float8", sqlexpr.String: "text", sqlexpr.Bool: "boolean", sqlexpr.Time: "timestamptz"}

// literal writes v for PostgreSQL to read back exactly.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int:
		return strconv.Itoa(v)
	case float64:
		return "'" + strconv.FormatFloat(v, 'g', -1, 64) + "'::float8"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return "'" + v.Format("2006-01-02T15:04:05.999999Z07:00") + "'::timestamptz"
	}
	panic(fmt.Sprintf("%T", v))
}

func (tb *table) create(t *testing.T, db *sql.DB) {
	t.Helper()
	defs := []string{"k int PRIMARY KEY"}
	for _, c := range tb.cols {
		defs = append(defs, strconv.Quote(c.name)+" "+sqlTypes[c.kind])
	}
	mustExec(t, db, "CREATE TABLE "+tb.name+" ("+strings.Join(defs, ", ")+")")
	for start := 0; start < len(tb.rows); start += 200 {
		var vals []string
		for k := start; k < min(start+200, len(tb.rows)); k++ {
			row := []string{strconv.Itoa(k)}
			for _, v := range tb.rows[k] {
				row = append(row, literal(v))
			}
			vals = append(vals, "("+strings.Join(row, ", ")+")")
		}
		mustExec(t, db, "INSERT INTO "+tb.name+" VALUES "+strings.Join(vals, ", "))
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}

func (tb *table) scope(zone *time.Location) sqlexpr.Scope {
	return func(name string) (sqlexpr.Column, bool) {
		switch name {
		case rules.AsOfVar:
			return sqlexpr.Column{SQL: literal(asOf), Kind: sqlexpr.Time}, true
		case rules.AsOfDateVar:
			return sqlexpr.Column{SQL: literal(rules.DateIn(asOf, zone)), Kind: sqlexpr.Time}, true
		}
		for _, c := range tb.cols {
			if c.name == name {
				return sqlexpr.Column{SQL: "f." + strconv.Quote(c.name), Kind: c.kind, Nullable: c.nullable}, true
			}
		}
		return sqlexpr.Column{}, false
	}
}

// env is what the engine's program sees of row k.
func (tb *table) env(k int, rs *rules.RuleSet) map[string]any {
	env := map[string]any{rules.AsOfVar: asOf.In(rs.Zone()), rules.AsOfDateVar: rules.DateIn(asOf, rs.Zone()), rules.AbsentVar: false}
	for i, c := range tb.cols {
		env[c.name] = tb.rows[k][i]
	}
	return env
}

// outcome is one row's result: "inexact", "error", or the value.
func goOutcome(out any, err error) string {
	if err != nil {
		return "error"
	}
	switch v := out.(type) {
	case float64:
		return "float:" + strconv.FormatFloat(v, 'g', -1, 64)
	case int:
		return "int:" + strconv.Itoa(v)
	case time.Time:
		return "time:" + v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%T:%v", out, out)
}

func sqlOutcome(kind sqlexpr.Kind, s sql.NullString) string {
	if !s.Valid {
		return "NULL"
	}
	if s.String == "~inexact" || s.String == "~error" {
		return strings.TrimPrefix(s.String, "~")
	}
	switch kind {
	case sqlexpr.Float:
		f, err := strconv.ParseFloat(s.String, 64)
		if err != nil {
			return "bad float " + s.String
		}
		if f == 0 {
			f = 0 // -0 and 0 are one value to every comparison
		}
		return "float:" + strconv.FormatFloat(f, 'g', -1, 64)
	case sqlexpr.Int:
		return "int:" + s.String
	case sqlexpr.Bool:
		return "bool:" + strconv.FormatBool(s.String == "true")
	case sqlexpr.Time:
		t, err := time.Parse(time.RFC3339Nano, s.String)
		if err != nil {
			return "bad time " + s.String
		}
		return "time:" + t.UTC().Format(time.RFC3339Nano)
	}
	return "string:" + s.String
}

// oracle is another judge of expression e on row k than expr's run of
// its program: the engine evaluating the rule set it is a condition of.
type oracle func(e *rules.Expr, k int) string

// stats counts what a differential run compared.
type stats struct {
	exprs, unsupported, rows, inexact, errors int
	reasons                                   map[string]int
}

// compare evaluates every expression of exprs on every row of tb in
// PostgreSQL and in Go, and fails the test on any difference.
func compare(t *testing.T, db *sql.DB, tb *table, rs *rules.RuleSet, exprs []*rules.Expr, st *stats, oracles ...oracle) {
	t.Helper()
	for _, e := range exprs {
		st.exprs++
		tr, err := sqlexpr.Translate(e, tb.scope(rs.Zone()))
		if err != nil {
			var u *sqlexpr.Unsupported
			if !errors.As(err, &u) {
				t.Fatalf("%s: %v", e.Source, err)
			}
			st.unsupported++
			st.reasons[u.Reason]++
			continue
		}
		immutable(t, db, tb, e.Source, nil, tr.Value, tr.Error, tr.Inexact)
		value := "(" + tr.Value + ")::text"
		if tr.Kind == sqlexpr.Time {
			value = "to_char((" + tr.Value + `) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
		}
		q := "SELECT k, CASE WHEN " + tr.Inexact + " THEN '~inexact' WHEN " + tr.Error + " THEN '~error' ELSE " + value + " END FROM " + tb.name + " f ORDER BY k"
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: the translation fails in PostgreSQL: %v\n%s", e.Source, err, q)
		}
		for rows.Next() {
			var k int
			var s sql.NullString
			if err := rows.Scan(&k, &s); err != nil {
				t.Fatal(err)
			}
			st.rows++
			got := sqlOutcome(tr.Kind, s)
			if got == "inexact" {
				st.inexact++
				continue
			}
			want := goOutcome(expr.Run(e.Program, tb.env(k, rs)))
			if want == "error" {
				st.errors++
			}
			if want == "float:-0" {
				want = "float:0"
			}
			if tr.Kind == sqlexpr.Time && strings.HasPrefix(got, "time:") {
				want = normalizeTime(want)
			}
			if got != want {
				t.Errorf("%s on row %d %v: PostgreSQL gives %s, the engine's program %s\n%s", e.Source, k, tb.rows[k], got, want, q)
			}
			for _, o := range oracles {
				if whole := o(e, k); whole != got {
					t.Errorf("%s on row %d %v: PostgreSQL gives %s, the engine's evaluation %s", e.Source, k, tb.rows[k], got, whole)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: the translation fails in PostgreSQL: %v\n%s", e.Source, err, q)
		}
		rows.Close()
	}
}

func normalizeTime(s string) string {
	ts, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(s, "time:"))
	if err != nil {
		return s
	}
	return "time:" + ts.UTC().Format(time.RFC3339Nano)
}

// factTable makes rows random rows of rs's facts, and columns for the
// state variables its expressions read.
func factTable(name string, rs *rules.RuleSet, n int, r *rand.Rand) *table {
	tb := &table{name: name}
	dates := map[string]bool{}
	for _, f := range rs.Facts.Fields {
		k := map[rules.Type]sqlexpr.Kind{rules.TypeNumber: sqlexpr.Float, rules.TypeInteger: sqlexpr.Int, rules.TypeString: sqlexpr.String,
			rules.TypeBool: sqlexpr.Bool, rules.TypeTime: sqlexpr.Time, rules.TypeDate: sqlexpr.Time}[f.Type]
		dates[f.Name] = f.Type == rules.TypeDate
		tb.cols = append(tb.cols, column{name: f.Name, kind: k, nullable: f.Nullable})
	}
	for _, s := range rs.Segmentations {
		v := rules.VarsFor(s.Name)
		names := []string{""}
		for _, seg := range s.Segments {
			names = append(names, seg.Name)
		}
		tb.cols = append(tb.cols,
			column{name: v.Segment, kind: sqlexpr.String, choices: names},
			column{name: v.Previous, kind: sqlexpr.String, choices: names},
			column{name: v.Rank, kind: sqlexpr.Int, choices: nil},
			column{name: v.PreviousRank, kind: sqlexpr.Int},
			column{name: v.DaysIn, kind: sqlexpr.Int},
			column{name: v.DaysInPrevious, kind: sqlexpr.Int},
			column{name: v.Overdue, kind: sqlexpr.Bool},
			column{name: v.DaysSinceCovered, kind: sqlexpr.Int})
	}
	for range n {
		row := make([]any, len(tb.cols))
		for i, c := range tb.cols {
			if c.choices != nil {
				row[i] = c.choices[r.IntN(len(c.choices))]
				continue
			}
			row[i] = randValue(r, c, dates[c.name])
		}
		tb.rows = append(tb.rows, row)
	}
	return tb
}

func allExprs(rs *rules.RuleSet) []*rules.Expr {
	var out []*rules.Expr
	for _, x := range sqlexpr.Explain(rs) {
		out = append(out, x.Expr)
	}
	return out
}

func TestDifferentialExamples(t *testing.T) {
	db := pgtest.DB(t)
	files, err := filepath.Glob("../../examples/*/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	st := &stats{reasons: map[string]int{}}
	r := rand.New(rand.NewPCG(1, 2))
	for i, f := range files {
		if strings.HasSuffix(f, "_test.yaml") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := rules.Compile(f, src, rules.Options{})
		if err != nil {
			continue // a rule set that needs its project (derived facts, follow-ups) compiles there; its tests cover it
		}
		tb := factTable(fmt.Sprintf("ex%d", i), rs, 400, r)
		tb.create(t, db)
		compare(t, db, tb, rs, allExprs(rs), st)
	}
	t.Logf("examples: %d expressions, %d untranslated %v; %d rows compared, %d left to the engine, %d errors", st.exprs, st.unsupported, st.reasons, st.rows, st.inexact, st.errors)
	if st.exprs == 0 || st.unsupported == st.exprs {
		t.Fatalf("nothing translated: %+v", st)
	}
}

// genFacts are the facts the generated expressions read.
const genFacts = `facts:
  n: number?
  m: number
  i: integer?
  j: integer
  s: string?
  u: string
  b: bool?
  c: bool
  t: time?
  w: time
  d: date?
`

// The schema of the generated expressions.
const genSchema = `ruleset: gen
timezone: %s
` + genFacts + `segmentations:
  - name: x
    segments:
      - name: "y"
        when: %s
      - name: z
        fallback: true
`

// The generated expressions run at an as-of whose date is the same in
// UTC, and at one whose date in Shanghai is the next day.
func TestDifferentialGenerated(t *testing.T) {
	db := pgtest.DB(t)
	saved := asOf
	defer func() { asOf = saved }()
	for i, c := range []struct {
		zone string
		asOf time.Time
	}{
		{"UTC", saved},
		{"Asia/Shanghai", time.Date(2024, 6, 30, 18, 0, 0, 0, time.UTC)},
	} {
		t.Run(strings.ReplaceAll(c.zone, "/", "_"), func(t *testing.T) {
			asOf = c.asOf
			differentialGenerated(t, db, c.zone, uint64(i))
		})
	}
}

func differentialGenerated(t *testing.T, db *sql.DB, zone string, seed uint64) {
	r := rand.New(rand.NewPCG(7, 11+seed))
	base, err := rules.Compile("gen.yaml", []byte(fmt.Sprintf(genSchema, zone, "true")), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb := factTable(fmt.Sprintf("gen%d", seed), base, 300, r)
	tb.create(t, db)
	g := &gen{r: r}
	var exprs []*rules.Expr
	engines := map[*rules.Expr]*engine.Engine{}
	seen := map[string]bool{}
	// Day counts compared with constants, either way round and on both
	// sides of zero, at the times where they turn (randTime).
	var fixed []string
	for _, op := range []string{"<", "<=", ">", ">="} {
		for _, n := range []string{"-8", "-7", "-1", "0", "1", "7", "90", "365"} {
			fixed = append(fixed, "days_since(w) "+op+" "+n, n+" "+op+" days_since(t)", "days_between(t, w) "+op+" "+n, "days_since(d) "+op+" "+n)
		}
	}
	for len(exprs) < 400+len(fixed) {
		src := g.boolean(3)
		if len(fixed) > 0 {
			src, fixed = fixed[0], fixed[1:]
		}
		if seen[src] {
			continue
		}
		seen[src] = true
		rs, err := rules.Compile("gen.yaml", []byte(fmt.Sprintf(genSchema, zone, strconv.Quote(src))), rules.Options{})
		if err != nil {
			continue // folding a constant can fail to compile (1 % 0); the compiler's tests cover that
		}
		when := rs.Segmentations[0].Segments[0].When
		exprs = append(exprs, when)
		engines[when] = engine.New(rs)
	}
	// The engine runs its own programs (slots, fused conditions): the
	// segment it picks must agree too, a rule error where SQL has one.
	facts := len(base.Facts.Fields)
	whole := func(e *rules.Expr, k int) string {
		res := engines[e].Evaluate(asOf, &engine.Customer{Key: strconv.Itoa(k), Facts: tb.rows[k][:facts]})
		switch {
		case len(res.Errors) > 0:
			return "error"
		case res.Segments[0].Segment == "y":
			return "bool:true"
		}
		return "bool:false"
	}
	st := &stats{reasons: map[string]int{}}
	compare(t, db, tb, base, exprs, st, whole)
	t.Logf("generated: %d expressions, %d untranslated %v; %d rows compared, %d left to the engine, %d errors", st.exprs, st.unsupported, st.reasons, st.rows, st.inexact, st.errors)
	if st.unsupported > st.exprs/4 {
		t.Errorf("%d of %d generated expressions did not translate: %v", st.unsupported, st.exprs, st.reasons)
	}
	if st.errors == 0 || st.inexact == 0 {
		t.Errorf("the corpus never errs or is never inexact (%+v): the generator misses cases", st)
	}
}

// gen writes random well-typed expressions over genSchema's facts.
type gen struct{ r *rand.Rand }

func (g *gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

func (g *gen) boolean(d int) string {
	if d <= 0 {
		return g.pick("c", "b", "is_null(n)", "is_null(t)", "i > 0", "m >= 0", `s == "a"`, "true")
	}
	switch g.r.IntN(12) {
	case 0:
		return "(" + g.boolean(d-1) + " && " + g.boolean(d-1) + ")"
	case 1:
		return "(" + g.boolean(d-1) + " || " + g.boolean(d-1) + ")"
	case 2:
		return "!(" + g.boolean(d-1) + ")"
	case 3, 4:
		return g.number(d-1) + " " + g.pick("<", "<=", ">", ">=", "==", "!=") + " " + g.number(d-1)
	case 5:
		return g.str(d-1) + " " + g.pick("<", ">=", "==", "!=") + " " + g.str(d-1)
	case 6:
		return g.integer(d-1) + " in [0, 1, -1, 7]"
	case 7:
		return g.str(d-1) + ` in ["a", "vip", "é", ""]`
	case 8:
		return g.pick("hasPrefix", "hasSuffix") + "(" + g.str(d-1) + `, "` + g.pick("a", "", "日") + `")`
	case 9:
		return "(" + g.boolean(d-1) + " ? " + g.boolean(d-1) + " : " + g.boolean(d-1) + ")"
	case 10:
		return g.pick("t", "w") + " " + g.pick("<", ">=", "==") + " " + g.pick("t", "w", "as_of")
	}
	return "is_null(" + g.pick("n", "i", "s", "b", "t", "d") + ")"
}

func (g *gen) number(d int) string {
	if g.r.IntN(2) == 0 {
		return g.integer(d)
	}
	return g.float(d)
}

func (g *gen) integer(d int) string {
	if d <= 0 {
		return g.pick("i", "j", "0", "1", "-1", "7", "365", "9223372036854775807", "-9223372036854775807", "len(u)", "days_since(w)")
	}
	switch g.r.IntN(11) {
	case 0, 1:
		return "(" + g.integer(d-1) + " " + g.pick("+", "-", "*") + " " + g.integer(d-1) + ")"
	case 2:
		return "(" + g.integer(d-1) + " % " + g.integer(d-1) + ")"
	case 3:
		return "abs(" + g.integer(d-1) + ")"
	case 4:
		return "len(" + g.str(d-1) + ")"
	case 5:
		return "days_since(" + g.pick("t", "w", "d") + ")"
	case 6:
		return "days_between(" + g.pick("t", "w") + ", " + g.pick("w", "as_of") + ")"
	case 7:
		return g.pick("max", "min") + "(" + g.integer(d-1) + ", " + g.integer(d-1) + ")"
	case 8:
		return "int(" + g.float(d-1) + ")"
	case 9:
		return "coalesce(i, j)"
	}
	return "-(" + g.integer(d-1) + ")"
}

func (g *gen) float(d int) string {
	if d <= 0 {
		return g.pick("n", "m", "0.0", "0.5", "2.5", "-2.5", "1e300", "1e-300", "0.1")
	}
	switch g.r.IntN(11) {
	case 0, 1:
		return "(" + g.float(d-1) + " " + g.pick("+", "-", "*", "/") + " " + g.number(d-1) + ")"
	case 2:
		return "(" + g.integer(d-1) + " / " + g.integer(d-1) + ")"
	case 3:
		return g.pick("round", "ceil", "floor", "abs") + "(" + g.float(d-1) + ")"
	case 4:
		return "round(" + g.integer(d-1) + ")"
	case 5:
		return "ratio(" + g.number(d-1) + ", " + g.number(d-1) + ")"
	case 6:
		return "safe_div(" + g.number(d-1) + ", " + g.number(d-1) + ", " + g.float(0) + ")"
	case 7:
		return "pct_change(" + g.number(d-1) + ", " + g.number(d-1) + ")"
	case 8:
		return "float(" + g.integer(d-1) + ")"
	case 9:
		return g.pick("max", "min") + "(" + g.float(d-1) + ", " + g.float(d-1) + ")"
	}
	return "-(" + g.float(d-1) + ")"
}

func (g *gen) str(d int) string {
	if d <= 0 {
		return g.pick("s", "u", `"a"`, `""`, `"é"`, `"vip"`)
	}
	switch g.r.IntN(5) {
	case 0:
		return "(" + g.str(d-1) + " + " + g.str(d-1) + ")"
	case 1:
		return "string(" + g.integer(d-1) + ")"
	case 2:
		return "string(" + g.pick("c", "b") + ")"
	}
	return g.str(0)
}
