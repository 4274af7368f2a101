package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// The database's decision reads each fact (decidedFact) with immutable
// functions only, as Citus requires of the decision's steps (subqueries
// without FROM) to push them down to its workers, and a date or a
// timestamp reads as the same instant in any session's time zone: a
// date at its midnight in UTC, a timestamp in UTC, as the engine reads
// them. Index expressions take only immutable functions, so each value
// and condition is made one on an empty table.
func TestDecidedFactsAreImmutable(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	types := map[string]string{"DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamptz", "NUMERIC": "numeric",
		"INT8": "int8", "INT4": "int4", "FLOAT8": "float8", "TEXT": "text", "BOOL": "bool"}
	var defs []string
	for dbType, sqlType := range types {
		defs = append(defs, "c_"+strings.ToLower(dbType)+" "+sqlType)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE facts_probe ("+strings.Join(defs, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for dbType := range types {
		col := "c_" + strings.ToLower(dbType)
		for _, ft := range []rules.Type{rules.TypeNumber, rules.TypeInteger, rules.TypeString, rules.TypeBool, rules.TypeTime} {
			value, valid, ok := decidedFact(col, rules.Field{Name: col, Type: ft}, &kernel.Column{Name: col, DBType: dbType})
			if !ok {
				continue
			}
			for _, x := range []string{value, valid} {
				if _, err := db.ExecContext(ctx, "CREATE INDEX ON facts_probe (("+x+"))"); err != nil {
					t.Errorf("a %s fact from a %s column: %s is not immutable: %v", ft, dbType, x, err)
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d expressions checked", checked)
	}

	// The instants, in a session far from UTC.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := tx.ExecContext(ctx, `SET LOCAL TIME ZONE 'Pacific/Kiritimati'`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dbType, text string
		want         time.Time
	}{
		{"DATE", "2024-03-31", time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC)},
		{"DATE", "0001-01-01", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"TIMESTAMP", "2024-10-27 01:30:00.000001", time.Date(2024, 10, 27, 1, 30, 0, 1000, time.UTC)},
		{"TIMESTAMPTZ", "2024-10-27 01:30:00+02", time.Date(2024, 10, 26, 23, 30, 0, 0, time.UTC)},
	} {
		x := utcTime(kernel.QuoteLiteral(c.text)+"::"+types[c.dbType], c.dbType)
		var got time.Time
		if err := tx.QueryRowContext(ctx, "SELECT "+x).Scan(&got); err != nil {
			t.Fatalf("%s: %v", x, err)
		}
		if !got.Equal(c.want) {
			t.Errorf("%s %s reads as %v, want %v", c.dbType, c.text, got.UTC(), c.want)
		}
	}
}
