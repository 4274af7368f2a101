package kernel

import (
	"errors"
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
