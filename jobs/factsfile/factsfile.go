// Package factsfile reads customer facts from a CSV or JSON Lines file,
// for previews in CI that have no database access. It implements
// jobs.Store for plans only: a file has facts but no previous state, and
// cannot be applied to.
package factsfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// maxReported is how many bad rows an error lists.
const maxReported = 20

// Store reads one facts file.
type Store struct {
	path  string
	jsonl bool
}

// Open checks that path exists and picks its format from the extension:
// .csv, or .jsonl / .ndjson / .json for one JSON object per line.
func Open(path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("facts file: %w", err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return &Store{path: path}, nil
	case ".jsonl", ".ndjson", ".json":
		return &Store{path: path, jsonl: true}, nil
	}
	return nil, fmt.Errorf("facts file %s: use a .csv or .jsonl file", path)
}

// BeginApply refuses: a file holds no state to apply to.
func (s *Store) BeginApply(context.Context, *rules.RuleSet, jobs.RunInfo) (jobs.ApplyTx, error) {
	return nil, errors.New("a facts file can be planned against, not applied to")
}

// Snapshot opens the file for one pass.
func (s *Store) Snapshot(_ context.Context, rs *rules.RuleSet) (jobs.Snapshot, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("facts file: %w", err)
	}
	return &snapshot{s: s, rs: rs, f: f}, nil
}

type snapshot struct {
	s  *Store
	rs *rules.RuleSet
	f  *os.File
}

func (sn *snapshot) Initial() bool                        { return true }
func (sn *snapshot) Count(context.Context) (int64, error) { return -1, nil }
func (sn *snapshot) Close() error                         { return sn.f.Close() }

// rowError is one bad row.
type rowError struct {
	line int
	msg  string
}

// badRows reports every bad row (the first maxReported of them) at once.
func (sn *snapshot) badRows(errs []rowError, total int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d bad row(s); fix them or the facts export:", sn.s.path, total)
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s:%d: %s", sn.s.path, e.line, e.msg)
	}
	if total > len(errs) {
		fmt.Fprintf(&b, "\n  ... and %d more", total-len(errs))
	}
	return errors.New(b.String())
}

func (sn *snapshot) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	if sn.s.jsonl {
		return sn.streamJSONL(ctx, batchSize, fn)
	}
	return sn.streamCSV(ctx, batchSize, fn)
}

// emitter batches customers and collects row errors.
type emitter struct {
	sn    *snapshot
	size  int
	batch []engine.Customer
	errs  []rowError
	nErrs int
	fn    func([]engine.Customer) error
}

func (e *emitter) fail(line int, format string, args ...any) {
	e.nErrs++
	if len(e.errs) < maxReported {
		e.errs = append(e.errs, rowError{line: line, msg: fmt.Sprintf(format, args...)})
	}
}

func (e *emitter) add(c engine.Customer) error {
	if e.nErrs > 0 {
		return nil // report errors, do not evaluate a partial file
	}
	c.State.Segments = make([]engine.Assignment, len(e.sn.rs.Segmentations))
	e.batch = append(e.batch, c)
	if len(e.batch) >= e.size {
		b := e.batch
		e.batch = make([]engine.Customer, 0, e.size)
		return e.fn(b)
	}
	return nil
}

func (e *emitter) finish() error {
	if e.nErrs > 0 {
		return e.sn.badRows(e.errs, e.nErrs)
	}
	if len(e.batch) > 0 {
		return e.fn(e.batch)
	}
	return nil
}

func (sn *snapshot) streamCSV(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	r := csv.NewReader(bufio.NewReader(sn.f))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: reading the header line: %w", sn.s.path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	keyCol, ok := col[sn.rs.Key]
	if !ok {
		return fmt.Errorf("%s:1: no key column %q in the header (%s)", sn.s.path, sn.rs.Key, strings.Join(header, ", "))
	}
	fields := sn.rs.Facts.Fields
	idx := make([]int, len(fields))
	var missing []string
	for i, f := range fields {
		c, ok := col[f.Name]
		if !ok {
			missing = append(missing, f.Name)
		}
		idx[i] = c
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s:1: the header lacks fact column(s) %s", sn.s.path, strings.Join(missing, ", "))
	}
	e := &emitter{sn: sn, size: batchSize, fn: fn, batch: make([]engine.Customer, 0, batchSize)}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			e.fail(line, "%v", err)
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c := engine.Customer{Key: rec[keyCol], Facts: make([]any, len(fields))}
		for i, f := range fields {
			raw := rec[idx[i]]
			var v any
			// An empty cell is null, except for text that may be empty.
			if raw != "" || (f.Type == rules.TypeString && !f.Nullable) {
				v = raw
			}
			cv, err := f.Coerce(v)
			if err != nil {
				e.fail(line, "column %s: %v", f.Name, err)
				continue
			}
			c.Facts[i] = cv
		}
		if err := e.add(c); err != nil {
			return err
		}
	}
	return e.finish()
}

func (sn *snapshot) streamJSONL(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	sc := bufio.NewScanner(sn.f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	fields := sn.rs.Facts.Fields
	e := &emitter{sn: sn, size: batchSize, fn: fn, batch: make([]engine.Customer, 0, batchSize)}
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			e.fail(line, "not a JSON object: %v", err)
			continue
		}
		keyV, ok := row[sn.rs.Key]
		if !ok || keyV == nil {
			e.fail(line, "no key %q", sn.rs.Key)
			continue
		}
		c := engine.Customer{Key: fmt.Sprint(keyV), Facts: make([]any, len(fields))}
		for i, f := range fields {
			v, present := row[f.Name]
			if !present && !f.Nullable {
				e.fail(line, "no %q", f.Name)
				continue
			}
			cv, err := f.Coerce(v)
			if err != nil {
				e.fail(line, "%s: %v", f.Name, err)
				continue
			}
			c.Facts[i] = cv
		}
		if err := e.add(c); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", sn.s.path, line+1, err)
	}
	return e.finish()
}
