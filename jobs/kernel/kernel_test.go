package kernel

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

func TestSourceSQL(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"customer_facts", `SELECT * FROM "customer_facts"`, ""},
		{"analytics.customer_facts;", `SELECT * FROM "analytics"."customer_facts"`, ""},
		{"SELECT id FROM t;\n", "SELECT id FROM t", ""},
		{`we"ird`, `SELECT * FROM "we""ird"`, ""},
		{"  ", "", "the facts source is empty"},
	} {
		got, err := SourceSQL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("SourceSQL(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("SourceSQL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestSecrets(t *testing.T) {
	s := SecretsOf("postgres://app:s3cr%21t@db.internal/crm")
	msg := s.Text(`connect to postgres://app:s3cr%21t@db.internal/crm: password "s3cr!t" refused`)
	if strings.Contains(msg, "s3cr") || strings.Count(msg, "[REDACTED]") != 2 {
		t.Errorf("Text left a secret: %s", msg)
	}
	kv := SecretsOf("host=db user=app password='hunter22' dbname=crm")
	if got := kv.Text("auth failed for hunter22"); got != "auth failed for [REDACTED]" {
		t.Errorf("key=value password: %s", got)
	}
	base := errors.New("dial postgres://app:s3cr%21t@db.internal/crm")
	err := s.Err(base)
	if strings.Contains(err.Error(), "s3cr") || !errors.Is(err, base) {
		t.Errorf("Err = %v (unwraps to base: %v)", err, errors.Is(err, base))
	}
	if s.Err(nil) != nil || Secrets(nil).Text("x") != "x" {
		t.Error("nil error or no secrets changed something")
	}
	// A user name without a password is no secret: a message naming a
	// path with it in keeps it.
	msg = `could not load library "/usr/lib/postgresql/15/lib/plpgsql.so"`
	if got := SecretsOf("postgres://postgres@127.0.0.1/tf").Text(msg); got != msg {
		t.Errorf("the user name was taken out: %s", got)
	}
}

// leakPassword is the password of the connection strings the secrets
// tests break: letters no message has, so that any four of them in a row
// are a leak.
const leakPassword = "Zq9Wv7Kx_Jm4Yp"

// fragments returns every run of four or more characters of s.
func fragments(s string) []string {
	var out []string
	for n := 4; n <= len(s); n++ {
		for i := 0; i+n <= len(s); i++ {
			out = append(out, s[i:i+n])
		}
	}
	return out
}

// leaked returns the first fragment of password in text, or "".
func leaked(text, password string) string {
	for _, w := range strings.Fields(password) {
		for _, f := range fragments(w) {
			if strings.Contains(text, f) {
				return f
			}
		}
	}
	return ""
}

// brokenDSNs are connection strings with the password in them written in
// every way that cannot be read, each with what CheckDSN must say and the
// password as written.
var brokenDSNs = []struct {
	name, dsn, want, password string
}{
	{"backslash", `postgres://tierflow:Zq9\Wv7Kx_Jm4Yp@127.0.0.1:5432/db`, "must be percent-encoded", `Zq9\Wv7Kx_Jm4Yp`},
	{"double quote", `postgres://tierflow:Zq9"Wv7Kx_Jm4Yp@127.0.0.1:5432/db`, "must be percent-encoded", `Zq9"Wv7Kx_Jm4Yp`},
	{"space", `postgres://tierflow:Zq9 Wv7Kx_Jm4Yp@127.0.0.1:5432/db`, "must be percent-encoded", "Zq9 Wv7Kx_Jm4Yp"},
	{"tab", "postgres://tierflow:Zq9\tWv7Kx_Jm4Yp@127.0.0.1:5432/db", "control character", "Zq9\tWv7Kx_Jm4Yp"},
	{"hash", "postgres://tierflow:Zq9#Wv7Kx_Jm4Yp@127.0.0.1:5432/db", "/, ? or #", "Zq9#Wv7Kx_Jm4Yp"},
	{"slash", "postgres://tierflow:Zq9/Wv7Kx_Jm4Yp@127.0.0.1:5432/db", "/, ? or #", "Zq9/Wv7Kx_Jm4Yp"},
	{"question mark", "postgresql://tierflow:Zq9?Wv7Kx_Jm4Yp@127.0.0.1/db?sslmode=disable", "/, ? or #", "Zq9?Wv7Kx_Jm4Yp"},
	{"digits then hash", "postgres://tierflow:4242#Wv7Kx_Jm4Yp@127.0.0.1:5432/db", "/, ? or #", "4242#Wv7Kx_Jm4Yp"},
	{"bad escape", "postgres://tierflow:Zq9%zzWv7Kx_Jm4Yp@127.0.0.1:5432/db", "a % is not followed", "Zq9%zzWv7Kx_Jm4Yp"},
	{"fragment", "postgres://tierflow:Zq9Wv7Kx_Jm4Yp@127.0.0.1:5432/db#x", "a # ends a URL", leakPassword},
	{"upper-case scheme", "POSTGRES://tierflow:Zq9Wv7Kx_Jm4Yp@127.0.0.1:5432/db", "starts with postgres://", leakPassword},
	{"upper-case scheme and query", "Postgres://tierflow:Zq9Wv7Kx_Jm4Yp@127.0.0.1/db?sslmode=disable", "starts with postgres://", leakPassword},
	{"key=value, two words", "host=127.0.0.1 user=tierflow password=Zq9 Wv7Kx_Jm4Yp dbname=db", "a word after the value of password has no =", "Zq9 Wv7Kx_Jm4Yp"},
	{"key=value, no closing quote", "host=127.0.0.1 password='Zq9 Wv7Kx_Jm4Yp dbname=db", "no closing quote", "Zq9 Wv7Kx_Jm4Yp dbname=db"},
	{"key=value, trailing backslash", `host=127.0.0.1 password=Zq9Wv7Kx_Jm4Yp\`, "ends with a backslash", leakPassword},
	{"key=value, quote in a name", `host=127.0.0.1 password=Zq9 Wv7Kx"_Jm4Yp=1`, "a setting's name", `Zq9 Wv7Kx"_Jm4Yp`},
	{"neither", "Zq9Wv7Kx_Jm4Yp", "neither a URL", leakPassword},
	{"no name", "host=127.0.0.1 =Zq9Wv7Kx_Jm4Yp", "has no name", leakPassword},
}

// A connection string that cannot be read is said so in words that
// quote no part of it.
func TestCheckDSN(t *testing.T) {
	for _, c := range brokenDSNs {
		err := CheckDSN(c.dsn)
		var de *DSNError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: CheckDSN = %v, want a *DSNError saying %q", c.name, err, c.want)
			continue
		}
		if f := leaked(err.Error(), c.password); f != "" || strings.Contains(err.Error(), "tierflow") {
			t.Errorf("%s: CheckDSN quotes the connection string (%q): %v", c.name, f, err)
		}
	}
	for _, dsn := range []string{
		"postgres://app:s3cr%21t@db.internal/crm",
		"postgresql://app@db:5432/crm?sslmode=disable&connect_timeout=5",
		"postgres:///crm?host=/var/run/postgresql",
		"postgres://app:ab@cd@db/crm",
		"postgres://db.internal/crm?user=me@corp&sslmode=require",
		"postgres://a,b:5433/crm",
		"host=db user=app password='two words' dbname=crm",
		`host=db user=app password=two\ words dbname=crm`,
		`host=db password='it\'s' dbname=crm application_name=tierflow search_path=x`,
		"host = db  port= 5432 password=",
		"",
	} {
		if err := CheckDSN(dsn); err != nil {
			t.Errorf("CheckDSN(%q) = %v, want nil", dsn, err)
		}
	}
}

// Whatever a driver or server echoes of a broken connection string, its
// password goes: quoted by %q, cut at a # or a space, one word of it.
func TestSecretsOfBrokenDSNs(t *testing.T) {
	for _, c := range brokenDSNs {
		s := SecretsOf(c.dsn)
		pw := c.password
		echoes := []string{
			c.dsn,
			fmt.Sprintf("parse %q: net/url: invalid userinfo", c.dsn),
			fmt.Sprintf(`missing "=" after %q in connection info string`, c.dsn),
			"password authentication failed for " + pw,
			fmt.Sprintf("pq: wrong value for %q", pw),
		}
		if before, after, ok := strings.Cut(pw, " "); ok {
			echoes = append(echoes, fmt.Sprintf(`missing "=" after %q in connection info string`, after), "auth "+before+" failed")
		}
		for _, sep := range []string{"#", "/", "?"} {
			if before, _, ok := strings.Cut(pw, sep); ok {
				echoes = append(echoes, fmt.Sprintf(`invalid port ":%s" after host`, before))
			}
		}
		for _, e := range echoes {
			if got := s.Text(e); leaked(got, pw) != "" {
				t.Errorf("%s: Text(%q) = %q", c.name, e, got)
			}
		}
	}
}

func TestSecretsKeyValueForms(t *testing.T) {
	for _, c := range []struct{ dsn, password string }{
		{"host=db password='Zq9 Wv7Kx_Jm4Yp' dbname=crm", "Zq9 Wv7Kx_Jm4Yp"},
		{`host=db password=Zq9\ Wv7Kx_Jm4Yp dbname=crm`, "Zq9 Wv7Kx_Jm4Yp"},
		{`host=db password='Zq9\'Wv7Kx_Jm4Yp' dbname=crm`, "Zq9'Wv7Kx_Jm4Yp"},
		{"postgres://db/crm?password=Zq9%20Wv7Kx_Jm4Yp", "Zq9 Wv7Kx_Jm4Yp"},
		{"postgres://app:Zq9%20Wv7Kx_Jm4Yp@db/crm", "Zq9 Wv7Kx_Jm4Yp"},
	} {
		s := SecretsOf(c.dsn)
		words := strings.Fields(c.password)
		for _, e := range []string{c.password, "FATAL: " + words[len(words)-1], fmt.Sprintf("%q", c.password)} {
			if got := s.Text(e); leaked(got, c.password) != "" {
				t.Errorf("SecretsOf(%q).Text(%q) = %q", c.dsn, e, got)
			}
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	at := time.Date(2024, 7, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	if got := IdempotencyKey("retail", "winback_call", "42", at); got != "retail/winback_call/42/2024-07-01T00:00:00Z" {
		t.Errorf("IdempotencyKey = %q", got)
	}
}

func schemaRuleSet(t *testing.T) *rules.RuleSet {
	t.Helper()
	schema, err := rules.NewSchema([]rules.Field{{Name: "spend", Type: rules.TypeNumber}, {Name: "joined", Type: rules.TypeTime}})
	if err != nil {
		t.Fatal(err)
	}
	return &rules.RuleSet{Name: "t", Key: "id", Facts: schema}
}

func TestCheckColumns(t *testing.T) {
	rs := schemaRuleSet(t)
	strict := &Dialect{Fact: rules.Field.Coerce}
	loose := &Dialect{Fact: rules.Field.Coerce, LooseTypes: true}
	cols := []Column{
		{Name: "id", Type: rules.TypeInteger, Mappable: true, Declared: true},
		{Name: "spend", Type: rules.TypeInteger, Mappable: true, Declared: true, Sample: int64(3)},
		{Name: "joined", Type: rules.TypeString, DBType: "TEXT", Mappable: true, Declared: true, Sample: "soon"},
	}
	got := CheckColumns(rs, cols, strict)
	if len(got) != 1 || !strings.Contains(got[0], `fact "joined" is declared time, but the source column is string (TEXT)`) {
		t.Errorf("strict: %q", got)
	}
	got = CheckColumns(rs, cols, loose)
	if len(got) != 1 || !strings.Contains(got[0], `holds values like soon`) {
		t.Errorf("loose: %q", got)
	}
	got = CheckColumns(rs, cols[1:2], strict)
	if len(got) != 2 || !strings.Contains(got[0], `no key column "id"`) || !strings.Contains(got[1], `no column "joined"`) {
		t.Errorf("missing columns: %q", got)
	}
}

func TestSchemaFromColumns(t *testing.T) {
	s, err := SchemaFromColumns("id", []Column{
		{Name: "id", Type: rules.TypeInteger, Mappable: true},
		{Name: "spend", Type: rules.TypeNumber, Mappable: true, Nullable: true},
		{Name: "blob", Mappable: false},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Fields) != 1 || s.Fields[0].Name != "spend" || !s.Fields[0].Nullable {
		t.Errorf("fields = %+v, want spend only", s.Fields)
	}
}

func TestMigrations(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0002_more.sql": {Data: []byte("B")},
		"migrations/0001_init.sql": {Data: []byte("A")},
	}
	ms := ReadMigrations(fsys)
	if len(ms) != 2 || ms[0].Name != "0001_init" || ms[1].SQL != "B" || LatestVersion(ms) != 2 {
		t.Fatalf("ReadMigrations = %+v", ms)
	}
	st := NewMigrationStatus(1, ms)
	if st.Latest != 2 || len(st.Pending) != 1 || st.Pending[0].Version != 2 {
		t.Errorf("status = %+v", st)
	}
	if err := st.Check("tierflow"); err == nil || !strings.Contains(err.Error(), "run `tierflow migrate`") {
		t.Errorf("Check = %v", err)
	}
	if err := NewMigrationStatus(2, ms).Check("tierflow"); err != nil {
		t.Errorf("up to date: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a bad migration file name did not panic")
		}
	}()
	ReadMigrations(fstest.MapFS{"migrations/init.sql": {Data: []byte("x")}})
}

// Changes stages changed assignments only, dates a first assignment at
// the run's as-of, and queues every action with its idempotency key.
func TestChanges(t *testing.T) {
	rs := &rules.RuleSet{Name: "retail", Segmentations: []*rules.Segmentation{{Name: "tier"}, {Name: "life"}}}
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	since := asOf.AddDate(0, -1, 0)
	c := &engine.Customer{Key: "7", State: engine.State{Segments: []engine.Assignment{{Segment: "vip", Since: since}, {}}}}
	res := &engine.Result{
		Segments: []engine.Decision{{Assignment: engine.Assignment{Segment: "vip", Since: since}}, {Assignment: engine.Assignment{Segment: "new"}, Matched: "new"}},
		Actions:  []engine.QueuedAction{{Name: "welcome", Priority: 2, Due: asOf}},
	}
	var assigned []Assignment
	var queued []Queued
	err := Changes(rs, jobs.RunInfo{AsOf: asOf}, []jobs.Evaluated{{Customer: c, Result: res}},
		func(a *Assignment) error { assigned = append(assigned, *a); return nil },
		func(q *Queued) error { queued = append(queued, *q); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(assigned) != 1 || assigned[0].Segmentation != "life" || !assigned[0].Since.Equal(asOf) || assigned[0].Previous != "" {
		t.Errorf("assigned = %+v, want life:new since the as-of", assigned)
	}
	if len(queued) != 1 || string(queued[0].Payload) != "{}" || queued[0].IdempotencyKey != "retail/welcome/7/2024-07-01T00:00:00Z" {
		t.Errorf("queued = %+v", queued)
	}
}

// A null is a fact error only in a fact not declared nullable; the
// error reads after the fact's field path and says how to fix it.
func TestScanNulls(t *testing.T) {
	schema, err := rules.NewSchema([]rules.Field{{Name: "last_order_at", Type: rules.TypeTime}, {Name: "spend", Type: rules.TypeNumber, Nullable: true}})
	if err != nil {
		t.Fatal(err)
	}
	rs := &rules.RuleSet{Name: "t", Key: "id", Facts: schema}
	rows := &sliceRows{rows: [][]any{{"7", nil, nil}, {"8", "2024-06-30", nil}}}
	sc := NewFactsScanner(rs, rules.Field.Coerce)
	rows.Next()
	c, err := sc.Scan(rows.Scan)
	if err != nil {
		t.Fatal(err)
	}
	want := "null, but the fact is not declared nullable (declare it as time? in facts:, or fix the source)"
	if len(c.FactErrors) != 1 || c.FactErrors[0].Fact != "last_order_at" || c.FactErrors[0].Err.Error() != want || c.Facts[0] != nil || c.Facts[1] != nil {
		t.Errorf("customer 7: facts %v, fact errors %v; want last_order_at: %s", c.Facts, c.FactErrors, want)
	}
	rows.Next()
	if c, err = sc.Scan(rows.Scan); err != nil || len(c.FactErrors) != 0 || c.Facts[1] != nil {
		t.Errorf("customer 8, null in a nullable fact: facts %v, fact errors %v, %v; want no error", c.Facts, c.FactErrors, err)
	}
}

// The source row counts of a stored report are read leniently: a report
// without sources, or with sources in a shape this release does not
// know, has none.
func TestSourceRows(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]int64
	}{
		{`[{"name": "primary", "rows": 5104, "customers": 5104}, {"name": "crm", "rows": 0, "future": true}]`, map[string]int64{"primary": 5104, "crm": 0}},
		{`[{"name": "", "rows": 3}, {"name": "primary", "rows": 3}]`, map[string]int64{"primary": 3}},
		{`[]`, nil},
		{`null`, nil},
		{``, nil},
		{`{"primary": 3}`, nil},
		{`[{"name": "primary", "rows": "many"}]`, nil},
	} {
		if got := SourceRows([]byte(c.in)); !maps.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("SourceRows(%s) = %v, want %v", c.in, got, c.want)
		}
	}
}

// keyTextDialect is a dialect for testing the shape of queries: it casts
// a fact only when its column is declared with the fact's type name.
var keyTextDialect = &Dialect{
	KeyText: func(expr string) string { return "TEXT(" + expr + ")" },
	FactExpr: func(expr string, f rules.Field, col *Column) string {
		if col != nil && col.DBType == f.Type.String() {
			return "CAST(" + expr + ")"
		}
		return expr
	},
	ByteOrder: func(expr string) string { return expr + " BYTES" },
	State:     &StateSQL{Elem: func(expr string, pos int) string { return fmt.Sprintf("%s[%d]", expr, pos) }},
}

// Both queries hand each fact its own column's description and order by
// the key's text in byte order; the facts query filters on the key's
// text when asked.
func TestQueriesOrderByKeyBytes(t *testing.T) {
	rs := schemaRuleSet(t)
	cols := []Column{{Name: "id", DBType: "integer"}, {Name: "spend", DBType: "number"}, {Name: "joined", DBType: "text"}}
	if got, want := FactsQuery(keyTextDialect, rs, cols, "SELECT 1", "$1"), `SELECT TEXT(src."id"), CAST(src."spend"), src."joined"
FROM (SELECT 1) AS src
WHERE TEXT(src."id") = $1
ORDER BY TEXT(src."id") BYTES`; got != want {
		t.Errorf("FactsQuery =\n%s\nwant\n%s", got, want)
	}
	rs.Segmentations = []*rules.Segmentation{{Name: "tier"}}
	got := SnapshotQuery(keyTextDialect, Tables{State: "x.customer_state"}, rs, NewLayout(rs), cols[:1], "SELECT 1")
	want := `SELECT TEXT(src."id"), src."spend", src."joined", st.segments[1], st.since[1], st.pending_since[1], st.wake_at, st.facts_digest, NULL
FROM (SELECT 1) AS src
LEFT JOIN x.customer_state st ON st.ruleset = 't' AND st.customer_key = TEXT(src."id")
ORDER BY TEXT(src."id") BYTES`
	if got != want {
		t.Errorf("SnapshotQuery =\n%s\nwant\n%s", got, want)
	}

	// With a digest, the snapshot returns it, and an incremental run's
	// compares it with the mark's.
	digesting := *keyTextDialect
	digesting.Digest = func(exprs []string) string { return "DIGEST(" + strings.Join(exprs, ", ") + ")" }
	got = snapshotQuery(&digesting, Tables{State: "x.customer_state"}, rs, NewLayout(rs), cols[:1], "SELECT 1", &narrowing{})
	want = `SELECT TEXT(src."id"), src."spend", src."joined", st.segments[1], st.since[1], st.pending_since[1], st.wake_at, st.facts_digest, DIGEST(src."spend", src."joined")
FROM (SELECT 1) AS src
LEFT JOIN x.customer_state st ON st.ruleset = 't' AND st.customer_key = TEXT(src."id")
WHERE st.customer_key IS NULL OR st.facts_digest IS DISTINCT FROM DIGEST(src."spend", src."joined") OR st.wake_at <= $1
ORDER BY TEXT(src."id") BYTES`
	if got != want {
		t.Errorf("snapshotQuery of the changed =\n%s\nwant\n%s", got, want)
	}

	// Where the dialect looks state rows up, the conditions read the
	// marks alone, and only the selected customers' rows are looked up;
	// with a change column, the changed rows look their own rows up, and
	// the others read the marks.
	digesting.LookUpState = func(table, ruleset, key string) string {
		return "LOOK UP " + table + " " + ruleset + " " + key + " AS st"
	}
	got = snapshotQuery(&digesting, Tables{State: "x.customer_state"}, rs, NewLayout(rs), cols[:1], "SELECT 1", &narrowing{})
	want = `SELECT TEXT(src."id"), src."spend", src."joined", st.segments[1], st.since[1], st.pending_since[1], st.wake_at, st.facts_digest, DIGEST(src."spend", src."joined")
FROM (SELECT 1) AS src
LEFT JOIN (SELECT customer_key, facts_digest, wake_at FROM x.customer_state WHERE ruleset = 't') AS mk ON mk.customer_key = TEXT(src."id")
LOOK UP x.customer_state 't' mk.customer_key AS st
WHERE mk.customer_key IS NULL OR mk.facts_digest IS DISTINCT FROM DIGEST(src."spend", src."joined") OR mk.wake_at <= $1
ORDER BY TEXT(src."id") BYTES`
	if got != want {
		t.Errorf("snapshotQuery of the changed, state looked up =\n%s\nwant\n%s", got, want)
	}
	got = snapshotQuery(&digesting, Tables{State: "x.customer_state"}, rs, NewLayout(rs), cols[:1], "SELECT 1",
		&narrowing{contacts: "CONTACTS", change: "CHANGED", unchanged: "UNCHANGED"})
	want = `SELECT TEXT(src."id") BYTES, src."spend", src."joined", st.segments[1], st.since[1], st.pending_since[1], st.wake_at, st.facts_digest, DIGEST(src."spend", src."joined")
FROM (SELECT 1) AS src
LOOK UP x.customer_state 't' TEXT(src."id") AS st
WHERE (CHANGED) AND (st.customer_key IS NULL OR st.facts_digest IS DISTINCT FROM DIGEST(src."spend", src."joined") OR st.wake_at <= $1 OR st.customer_key IN (CONTACTS))
UNION ALL
SELECT TEXT(src."id") BYTES, src."spend", src."joined", st.segments[1], st.since[1], st.pending_since[1], st.wake_at, st.facts_digest, DIGEST(src."spend", src."joined")
FROM (SELECT 1) AS src
JOIN (SELECT customer_key, facts_digest, wake_at FROM x.customer_state WHERE ruleset = 't') AS mk ON mk.customer_key = TEXT(src."id")
LOOK UP x.customer_state 't' mk.customer_key AS st
WHERE UNCHANGED AND (mk.wake_at <= $1 OR mk.customer_key IN (CONTACTS))
ORDER BY 1`
	if got != want {
		t.Errorf("snapshotQuery of the changed by a change column, state looked up =\n%s\nwant\n%s", got, want)
	}
}

// Segments reads the JSON column the queue keeps them in: text or bytes,
// NULL as nil; anything else is an error naming it.
func TestSegmentsScan(t *testing.T) {
	for _, c := range []struct {
		name string
		src  any
		want Segments
		err  string
	}{
		{"null", nil, nil, ""},
		{"text", `{"value_tier": "vip", "lifecycle": "new"}`, Segments{"value_tier": "vip", "lifecycle": "new"}, ""},
		{"bytes", []byte(`{"value_tier": "key"}`), Segments{"value_tier": "key"}, ""},
		{"empty object", "{}", Segments{}, ""},
		{"not JSON", "vip", nil, `segments "vip"`},
		{"not text", int64(3), nil, "stored as int64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Segments{"stale": "x"}
			err := got.Scan(c.src)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Scan(%v) = %v, want an error with %q", c.src, err, c.err)
				}
				return
			}
			if err != nil || len(got) != len(c.want) || (got == nil) != (c.want == nil) {
				t.Fatalf("Scan(%v) = %v, %v; want %v", c.src, got, err, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Fatalf("Scan(%v) = %v, want %v", c.src, got, c.want)
				}
			}
		})
	}
}
