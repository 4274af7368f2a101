package kernel

import (
	"database/sql"
	"errors"
	"fmt"
)

// mergedRows reads several queries' rows, each ordered by its first
// column (a customer key, in byte order), as one stream in that order
// (Rows): the parts of a read split across connections so that the
// database evaluates them on as many backends (narrowing.parts).
type mergedRows struct {
	rows []*sql.Rows
	// row holds each part's next row, nil once the part is read to its
	// end; cur is the part whose row Next chose, -1 before the first.
	row  [][]any
	dest [][]any // pointers to row's elements, for Scan
	cur  int
	err  error
}

func newMergedRows(rows []*sql.Rows) (*mergedRows, error) {
	cols, err := rows[0].Columns()
	if err != nil {
		return nil, err
	}
	m := &mergedRows{rows: rows, row: make([][]any, len(rows)), dest: make([][]any, len(rows)), cur: -1}
	for i := range rows {
		vals, dest := make([]any, len(cols)), make([]any, len(cols))
		for k := range vals {
			dest[k] = &vals[k]
		}
		m.row[i], m.dest[i] = vals, dest
		m.advance(i)
	}
	return m, m.err
}

// advance reads part i's next row, or marks the part done.
func (m *mergedRows) advance(i int) {
	r := m.rows[i]
	if m.err != nil || !r.Next() {
		if err := r.Err(); err != nil && m.err == nil {
			m.err = err
		}
		m.row[i] = nil
		return
	}
	if err := r.Scan(m.dest[i]...); err != nil && m.err == nil {
		m.err = err
		m.row[i] = nil
	}
}

// Next moves to the row with the least key among the parts' next rows.
func (m *mergedRows) Next() bool {
	if m.cur >= 0 {
		m.advance(m.cur)
	}
	m.cur = -1
	if m.err != nil {
		return false
	}
	var least string
	for i, row := range m.row {
		if row == nil {
			continue
		}
		if k := keyString(row[0]); m.cur < 0 || k < least {
			m.cur, least = i, k
		}
	}
	return m.cur >= 0
}

// Scan copies the current row into dest, which must be *any each.
func (m *mergedRows) Scan(dest ...any) error {
	if m.cur < 0 {
		return errors.New("scan with no row: Next returned false")
	}
	row := m.row[m.cur]
	if len(dest) != len(row) {
		return fmt.Errorf("scan %d columns into %d destinations", len(row), len(dest))
	}
	for k, d := range dest {
		p, ok := d.(*any)
		if !ok {
			return fmt.Errorf("scan column %d into %T, not *any", k, d)
		}
		*p = row[k]
	}
	return nil
}

func (m *mergedRows) Err() error { return m.err }
