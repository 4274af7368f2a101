package factsfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// sampleRows is how many rows of each file CheckFacts reads, and how many
// rows in all FactsSchema infers types from.
const sampleRows = 100

// CheckFacts verifies that the files hold rs's key and every fact it
// reads, and that the values of the first rows of each file convert to
// their facts' types. A CSV file needs a column per fact in its header; a
// JSON Lines file's first object needs the key and every fact that is
// not nullable. It returns one message per problem, naming the file (and
// line) and how to fix it; an error is a file that cannot be read.
func (s *Source) CheckFacts(ctx context.Context, rs *rules.RuleSet) ([]string, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	g := newGaps(rs)
	var values []string
	for _, f := range files {
		msgs, cols, err := checkFile(ctx, f, rs)
		if err != nil {
			return nil, err
		}
		if cols != nil {
			g.add(f, cols)
		}
		values = append(values, msgs...)
	}
	return append(g.messages(), values...), nil
}

// checkFile reads the first rows of f and returns, per kind of problem and
// column, the first row that has it; and f's columns.
func checkFile(ctx context.Context, f file, rs *rules.RuleSet) (msgs, cols []string, err error) {
	d, err := open(f)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	need := names(rs)
	d.bind(need)
	vals := make([]any, len(need))
	type first struct {
		line int
		p    problem
		more int
	}
	type kind struct {
		kind problemKind
		fact string
	}
	var order []*first
	seen := map[kind]*first{}
rows:
	for range sampleRows {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		line, err := d.next(vals)
		var bad []problem
		switch {
		case err == nil:
			_, bad = customer(rs, vals, f.csv())
		case isLineError(err):
			bad = []problem{{kind: badRow, msg: err.Error()}}
		case errors.Is(err, io.EOF):
			break rows
		default:
			return nil, nil, fmt.Errorf("%s: %w", f.path, err)
		}
		for _, p := range bad {
			id := kind{p.kind, p.field.Name}
			if e := seen[id]; e != nil {
				e.more++
				continue
			}
			seen[id] = &first{line: line, p: p}
			order = append(order, seen[id])
		}
	}
	if cols, err = d.columns(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.path, err)
	}
	for _, e := range order {
		// A column missing from the header or the first object is reported
		// once for all files.
		if e.p.kind == badNoKey && indexOf(cols, rs.Key) < 0 || e.p.kind == badAbsent && indexOf(cols, e.p.field.Name) < 0 {
			continue
		}
		m := fmt.Sprintf("%s:%d: %s", f.path, e.line, e.p.fix(f.csv()))
		if e.more > 0 {
			m += fmt.Sprintf(" (and %s like it in the first %d)", plural(e.more, "more row"), sampleRows)
		}
		msgs = append(msgs, m)
	}
	return msgs, cols, nil
}

// FactsSchema derives a facts schema from the files, for rule files that
// declare no facts: a nullable fact per column but the key (of the CSV
// header, or of the first JSON object), typed by the values of the first
// rows: integer, number, bool, time, else string. Every CSV file must
// have the first one's columns.
func (s *Source) FactsSchema(ctx context.Context, rs *rules.RuleSet) (*rules.Schema, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	inf := &inference{key: rs.Key}
	for _, f := range files {
		if err := inf.file(ctx, f); err != nil {
			return nil, err
		}
	}
	if inf.cols == nil {
		return nil, fmt.Errorf("%s: no JSON object to take the facts from: declare facts: in the rule file", label(s, files))
	}
	var fs []rules.Field
	for i, c := range inf.cols {
		g := inf.guesses[i]
		if g.unreadable {
			continue
		}
		if g.t == 0 {
			g.t = rules.TypeString
		}
		fs = append(fs, rules.Field{Name: c, Type: g.t, Nullable: true})
	}
	schema, err := rules.NewSchema(fs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; rename the column in the export, or declare facts: in the rule file", inf.from, err)
	}
	return schema, nil
}

// inference guesses the facts of files from their columns and first rows.
type inference struct {
	key     string
	cols    []string // the columns but the key, from the file named from
	from    string
	guesses []guess
	sampled int
}

func (inf *inference) file(ctx context.Context, f file) error {
	d, err := open(f)
	if err != nil {
		return err
	}
	defer d.Close()
	cols, err := d.columns()
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	switch {
	case inf.cols == nil && cols == nil: // a JSON Lines file with no object
		return nil
	case inf.cols == nil:
		inf.from = f.path
		inf.cols = []string{}
		for _, c := range cols {
			if c != inf.key && c != "" && indexOf(inf.cols, c) < 0 {
				inf.cols = append(inf.cols, c)
			}
		}
		inf.guesses = make([]guess, len(inf.cols))
	case f.csv():
		var lack []string
		for _, c := range inf.cols {
			if indexOf(cols, c) < 0 {
				lack = append(lack, strconv.Quote(c))
			}
		}
		if len(lack) > 0 {
			return fmt.Errorf("%s: the header lacks column(s) %s of %s: the files must share a header", f.path, strings.Join(lack, ", "), inf.from)
		}
	}
	d.bind(inf.cols)
	vals := make([]any, len(inf.cols))
	for ; inf.sampled < sampleRows; inf.sampled++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := d.next(vals)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case isLineError(err):
			continue
		case err != nil:
			return fmt.Errorf("%s: %w", f.path, err)
		}
		for i, v := range vals {
			inf.guesses[i].add(v, f.csv())
		}
	}
	return nil
}

// guess is the type of a column's values so far.
type guess struct {
	t          rules.Type // 0 while every value is empty
	unreadable bool       // a JSON object or array
}

func (g *guess) add(v any, text bool) {
	if v == absent || v == nil {
		return
	}
	var t rules.Type
	switch x := v.(type) {
	case string:
		if text {
			t = textType(x)
		} else if _, err := rules.ParseTime(x); err == nil {
			t = rules.TypeTime
		} else {
			t = rules.TypeString
		}
	case bool:
		t = rules.TypeBool
	case json.Number:
		t = textType(x.String())
	default:
		g.unreadable = true
		return
	}
	switch {
	case t == 0, g.t == t:
	case g.t == 0:
		g.t = t
	case g.t == rules.TypeInteger && t == rules.TypeNumber, g.t == rules.TypeNumber && t == rules.TypeInteger:
		g.t = rules.TypeNumber
	default:
		g.t = rules.TypeString
	}
}

// textType is the narrowest type a CSV cell's text converts to; 0 for an
// empty cell. A number with leading zeros (a postcode, a phone number) is
// text.
func textType(s string) rules.Type {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		if digits := strings.TrimLeft(s, "+-"); len(digits) > 1 && digits[0] == '0' {
			return rules.TypeString
		}
		return rules.TypeInteger
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return rules.TypeNumber
	}
	if _, err := strconv.ParseBool(s); err == nil {
		return rules.TypeBool
	}
	if _, err := rules.ParseTime(s); err == nil {
		return rules.TypeTime
	}
	return rules.TypeString
}
