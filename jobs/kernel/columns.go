package kernel

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// Column is one column of a facts source, with the fact type it maps to.
type Column struct {
	Name     string
	DBType   string
	Type     rules.Type
	Nullable bool
	// Mappable is false for column types rules cannot read.
	Mappable bool
	// Declared is false when the column's type name says nothing of its
	// values (an expression, JSON): its type was inferred from Sample.
	Declared bool
	// Sample is the first non-null value of the first rows, if any.
	Sample any
}

// sampleRows is how many rows Columns reads to infer the type of a
// column whose declaration says little.
const sampleRows = 100

// factColumns describes the source's columns, reading no rows, where
// the dialect builds fact expressions by their types (TypedColumns); it
// returns nil otherwise.
func factColumns(ctx context.Context, q Queryer, d *Dialect, src string) ([]Column, error) {
	if !d.TypedColumns {
		return nil, nil
	}
	return readColumns(ctx, q, d, src)
}

// readColumns describes the columns of the source query src. Where a
// column's declared type says little (SQLite's loose types), values
// decide: a column with no declared type gets the type of its first
// non-null value in the first rows, string when all are null; a text
// column whose values are dates is a time column. A column declared DATE
// is a date column.
func readColumns(ctx context.Context, q Queryer, d *Dialect, src string) ([]Column, error) {
	limit := 0 // declared types decide: read no rows
	if d.LooseTypes {
		limit = sampleRows
	}
	rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT * FROM (%s) AS src LIMIT %d", src, limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	out := make([]Column, len(types))
	for i, t := range types {
		ft, ok, declared := d.ColumnType(t.DatabaseTypeName())
		// Drivers cannot always tell nullability; every column may be null.
		out[i] = Column{Name: t.Name(), DBType: t.DatabaseTypeName(), Type: ft, Nullable: true, Mappable: ok, Declared: declared}
	}
	vals := make([]any, len(out))
	dest := make([]any, len(out))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			if c := &out[i]; c.Sample == nil && v != nil {
				c.Sample = v
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		c := &out[i]
		switch {
		case !c.Declared && c.Sample == nil:
			c.Type = rules.TypeString
		case !c.Declared:
			c.Type, c.Mappable = valueType(c.Sample)
		case c.Type == rules.TypeString:
			if t, ok := valueType(c.Sample); ok && t == rules.TypeTime {
				c.Type = t
			}
		case c.Type == rules.TypeTime && isDateColumn(c.DBType):
			c.Type = rules.TypeDate
		}
	}
	return out, nil
}

// isDateColumn reports whether a column declared dbType holds calendar
// days: SQL's DATE (PostgreSQL's date; SQLite's DATE, not DATETIME). Its
// values are dates with no time of day, so the schema inferred for a rule
// file without facts makes it a date fact.
func isDateColumn(dbType string) bool {
	return strings.EqualFold(strings.TrimSpace(dbType), "DATE")
}

// valueType infers a fact type from a value as a driver returns it.
func valueType(v any) (rules.Type, bool) {
	switch x := v.(type) {
	case int64:
		return rules.TypeInteger, true
	case float64:
		return rules.TypeNumber, true
	case bool:
		return rules.TypeBool, true
	case time.Time:
		return rules.TypeTime, true
	case string:
		if _, err := rules.ParseTime(x); err == nil {
			return rules.TypeTime, true
		}
		return rules.TypeString, true
	}
	return 0, false
}

// SchemaFromColumns makes a facts schema of every readable column but the
// key, for rule files that declare no facts.
func SchemaFromColumns(key string, cols []Column) (*rules.Schema, error) {
	var fields []rules.Field
	for _, c := range cols {
		if c.Name == key || !c.Mappable {
			continue
		}
		fields = append(fields, rules.Field{Name: c.Name, Type: c.Type, Nullable: c.Nullable})
	}
	return rules.NewSchema(fields)
}

// CheckColumns verifies that cols hold rs's key and every fact its rules
// read, with compatible types. Where the dialect's types are loose, values
// decide: a column passes when its sample converts to the fact's type as
// a snapshot would convert every value, and an empty column when its
// declared type is compatible. It returns one message per problem, naming
// the column and how to fix it.
func CheckColumns(rs *rules.RuleSet, cols []Column, d *Dialect) []string {
	byName := map[string]Column{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	var problems []string
	if _, ok := byName[rs.Key]; !ok {
		problems = append(problems, fmt.Sprintf("the source has no key column %q: select it, or set key: in the rule file", rs.Key))
	}
	for _, f := range rs.Facts.Fields {
		c, ok := byName[f.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("fact %q (%s): the source has no column %q; add it to the query (e.g. `... AS %s`)", f.Name, f.Type, f.Name, f.Name))
		case !c.Mappable:
			problems = append(problems, fmt.Sprintf("fact %q (%s): column type %s cannot be read by rules; cast it in the query", f.Name, f.Type, describe(c)))
		case d.LooseTypes && c.Sample != nil:
			if _, err := d.Fact(f, c.Sample); err != nil {
				problems = append(problems, fmt.Sprintf("fact %q is declared %s, but the source column holds values like %v (%s); change the declaration or convert the column in the query", f.Name, f.Type, c.Sample, describe(c)))
			}
		case c.Declared && !compatible(f.Type, c.Type):
			problems = append(problems, fmt.Sprintf("fact %q is declared %s, but the source column is %s (%s); change the declaration or cast the column", f.Name, f.Type, c.Type, c.DBType))
		}
	}
	return problems
}

// describe names a column's type for a message.
func describe(c Column) string {
	if c.DBType != "" {
		return c.DBType
	}
	if c.Sample == nil {
		return "no declared type"
	}
	return fmt.Sprintf("no declared type, values of Go type %T", c.Sample)
}

// compatible reports whether a column of type got can be read as a fact
// declared want. Dates and times read as each other: a date as a time is
// its 00:00 UTC, and a time as a date must be a midnight, which is checked
// value by value (rules.Field.Coerce).
func compatible(want, got rules.Type) bool {
	switch {
	case want == got, want == rules.TypeNumber && got == rules.TypeInteger:
		return true
	case want == rules.TypeDate && got == rules.TypeTime, want == rules.TypeTime && got == rules.TypeDate:
		return true
	}
	return false
}
