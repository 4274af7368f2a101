package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// sampleRows is how many rows SourceColumns reads to infer the type of
// a column that has no declared type.
const sampleRows = 100

// columnType maps a declared column type to a fact type, by SQLite's
// affinity rules extended with the usual spellings of booleans and
// times. declared is false for a column with no declared type (an
// expression) or one whose type says nothing (such as JSON): its type
// is inferred from its values.
func columnType(decl string) (t rules.Type, mappable, declared bool) {
	d := strings.ToUpper(strings.TrimSpace(decl))
	if i := strings.IndexByte(d, '('); i >= 0 {
		d = strings.TrimSpace(d[:i]) // VARCHAR(20), DECIMAL(10,2)
	}
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(d, s) {
				return true
			}
		}
		return false
	}
	switch {
	case d == "":
		return 0, true, false
	case has("BOOL"):
		return rules.TypeBool, true, true
	case has("DATE") || strings.HasPrefix(d, "TIMESTAMP"):
		return rules.TypeTime, true, true
	case has("INT"):
		return rules.TypeInteger, true, true
	case has("CHAR", "CLOB", "TEXT", "UUID"):
		return rules.TypeString, true, true
	case has("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL", "MONEY"):
		return rules.TypeNumber, true, true
	case has("BLOB"):
		return 0, false, true
	}
	return 0, true, false
}

// valueType infers a fact type from a value as SQLite returns it.
func valueType(v any) (rules.Type, bool) {
	switch x := v.(type) {
	case int64:
		return rules.TypeInteger, true
	case float64:
		return rules.TypeNumber, true
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

// sourceColumn is a Column with what SourceColumns saw of its values.
type sourceColumn struct {
	Column
	declared bool
	sample   any // the first non-null value in the first rows
}

// SourceColumns describes the columns the rule set's facts source
// returns. SQLite's column types are loose, so values decide where the
// declaration says little: a column with no declared type (an
// expression) gets the type of the first non-null value in the first
// rows, string when all are null; a text column whose values are dates
// is a time column, as SQLite keeps dates in text.
func (s *Store) SourceColumns(ctx context.Context, rs *rules.RuleSet) ([]Column, error) {
	cols, err := s.sourceColumns(ctx, rs)
	if err != nil {
		return nil, err
	}
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = c.Column
	}
	return out, nil
}

func (s *Store) sourceColumns(ctx context.Context, rs *rules.RuleSet) ([]sourceColumn, error) {
	src, err := s.source(rs)
	if err != nil {
		return nil, err
	}
	rows, err := s.ro.QueryContext(ctx, fmt.Sprintf("SELECT * FROM (%s) AS src LIMIT %d", src, sampleRows))
	if err != nil {
		return nil, fmt.Errorf("facts source of %s: %w", rs.Name, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	out := make([]sourceColumn, len(types))
	for i, t := range types {
		ft, ok, declared := columnType(t.DatabaseTypeName())
		out[i] = sourceColumn{Column: Column{Name: t.Name(), DBType: t.DatabaseTypeName(), Type: ft, Nullable: true, Mappable: ok}, declared: declared}
	}
	vals := make([]any, len(out))
	dest := make([]any, len(out))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("facts source of %s: %w", rs.Name, err)
		}
		for i, v := range vals {
			if c := &out[i]; c.sample == nil && v != nil {
				c.sample = v
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("facts source of %s: %w", rs.Name, err)
	}
	for i := range out {
		c := &out[i]
		switch {
		case !c.declared && c.sample == nil:
			c.Type = rules.TypeString
		case !c.declared:
			c.Type, c.Mappable = valueType(c.sample)
		case c.Type == rules.TypeString:
			if t, ok := valueType(c.sample); ok && t == rules.TypeTime {
				c.Type = t
			}
		}
	}
	return out, nil
}

// SourceSchema derives a facts schema from the source's columns (all but
// the key), for rule files that declare no facts.
func (s *Store) SourceSchema(ctx context.Context, rs *rules.RuleSet) (*rules.Schema, error) {
	cols, err := s.SourceColumns(ctx, rs)
	if err != nil {
		return nil, err
	}
	return postgres.SchemaFromColumns(rs.Key, cols)
}

// CheckSource verifies that the source returns the key and every fact
// the rules read, with compatible types. As SQLite keeps any value in
// any column, values decide: a column passes when the first non-null
// value of the first rows converts to the fact's type (as the snapshot
// converts every value), and an empty column when its declared type is
// compatible. It returns one message per problem, naming the column and
// how to fix it.
func (s *Store) CheckSource(ctx context.Context, rs *rules.RuleSet) ([]string, error) {
	cols, err := s.sourceColumns(ctx, rs)
	if err != nil {
		return nil, err
	}
	byName := map[string]sourceColumn{}
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
		case c.sample != nil:
			if _, err := factValue(f, c.sample); err != nil {
				problems = append(problems, fmt.Sprintf("fact %q is declared %s, but the source column holds values like %v (%s); change the declaration or convert the column in the query", f.Name, f.Type, c.sample, describe(c)))
			}
		case c.declared && !compatible(f.Type, c.Type):
			problems = append(problems, fmt.Sprintf("fact %q is declared %s, but the source column is %s (%s); change the declaration or cast the column", f.Name, f.Type, c.Type, c.DBType))
		}
	}
	return problems, nil
}

// describe names a column's type for a message.
func describe(c sourceColumn) string {
	if c.DBType != "" {
		return c.DBType
	}
	if c.sample == nil {
		return "no declared type"
	}
	return fmt.Sprintf("no declared type, values of Go type %T", c.sample)
}

func compatible(want, got rules.Type) bool {
	return want == got || (want == rules.TypeNumber && got == rules.TypeInteger)
}
