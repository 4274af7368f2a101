package factsfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// The formats a file can hold.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

var (
	_ jobs.FactsSource    = (*Source)(nil)
	_ jobs.CustomerFinder = (*Source)(nil)
)

// Source is a facts source on one file or a glob of files. The pattern is
// resolved again by every pass, so that a long-running process reads the
// files present when each run starts. It is safe for concurrent use.
type Source struct {
	pattern string
	format  string
}

// file is one file of a pass and the format it is read in.
type file struct {
	path   string
	format string
}

func (f file) csv() bool { return f.format == FormatCSV }

// Open makes a source of the file or glob pattern (filepath.Glob syntax)
// in format: FormatCSV, FormatJSONL, or "" to take each file's format from
// its extension. It checks that the pattern matches at least one file and
// that every file's format is known.
func Open(pattern, format string) (*Source, error) {
	switch format {
	case "", FormatCSV, FormatJSONL:
	default:
		return nil, fmt.Errorf("facts file %s: unknown format %q: use %q, %q, or none to go by each file's extension", pattern, format, FormatCSV, FormatJSONL)
	}
	s := &Source{pattern: pattern, format: format}
	if _, err := s.files(); err != nil {
		return nil, err
	}
	return s, nil
}

// Files returns the paths the pattern matches now, in the order a pass
// reads them.
func (s *Source) Files() ([]string, error) {
	fs, err := s.files()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.path
	}
	return out, nil
}

func (s *Source) files() ([]file, error) {
	paths, err := s.match()
	if err != nil {
		return nil, err
	}
	out := make([]file, len(paths))
	for i, p := range paths {
		out[i] = file{path: p, format: s.format}
		if s.format == "" {
			if out[i].format, err = formatOf(p); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (s *Source) match() ([]string, error) {
	if !strings.ContainsAny(s.pattern, `*?[\`) {
		fi, err := os.Stat(s.pattern)
		if err != nil {
			return nil, fmt.Errorf("facts file: %w", err)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("facts file %s is a directory: name a file, or a glob such as %s", s.pattern, filepath.Join(s.pattern, "*.csv"))
		}
		return []string{s.pattern}, nil
	}
	matches, err := filepath.Glob(s.pattern)
	if err != nil {
		return nil, fmt.Errorf("facts files %s: %w", s.pattern, err)
	}
	var paths []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && !fi.IsDir() {
			paths = append(paths, m)
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("facts files %s: no file matches the pattern", s.pattern)
	}
	sort.Strings(paths)
	return paths, nil
}

// formatOf picks a file's format from its extension, ignoring a trailing
// .gz.
func formatOf(path string) (string, error) {
	name := strings.TrimSuffix(strings.ToLower(filepath.Base(path)), ".gz")
	switch filepath.Ext(name) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("facts file %s: unknown extension: use .csv for CSV, or .jsonl, .ndjson or .json for one JSON object per line, each optionally followed by .gz (customers.csv.gz); or name the format", path)
}

// label names the source in messages: its one file, or its pattern.
func label(s *Source, files []file) string {
	if len(files) == 1 {
		return "facts file " + files[0].path
	}
	return fmt.Sprintf("facts files %s (%d files)", s.pattern, len(files))
}

// OpenFacts resolves the pattern and opens one pass over the files it
// matches now. Each Stream reads the files from their start.
func (s *Source) OpenFacts(_ context.Context, rs *rules.RuleSet) (jobs.FactsReader, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	return &reader{s: s, rs: rs, files: files}, nil
}

type reader struct {
	s     *Source
	rs    *rules.RuleSet
	files []file
}

// Count is unknown without reading the files.
func (r *reader) Count(context.Context) (int64, error) { return -1, nil }

// Close releases nothing: Stream closes each file it opens.
func (r *reader) Close() error { return nil }

// Stream checks every CSV header first, then streams the files in order,
// each customer as its row comes: customers with equal keys are handed
// out in file order. A customer with values that do not convert is
// handed out with FactErrors. After the first row that is no customer
// (see the package doc) it hands out no more customers, reads on to find
// the others, and returns them all as one error.
func (r *reader) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	if batchSize < 1 {
		return fmt.Errorf("%s: batch size %d: must be at least 1", label(r.s, r.files), batchSize)
	}
	if err := checkHeaders(r.s, r.rs, r.files); err != nil {
		return err
	}
	e := &emitter{size: batchSize, fn: fn}
	for _, f := range r.files {
		err := scan(ctx, f, r.rs, func(line int, c engine.Customer, bad []problem) error {
			return e.add(f, line, c, bad)
		})
		if err != nil {
			return err
		}
	}
	return e.finish(label(r.s, r.files))
}

var errFound = errors.New("found")

// FindFacts reads the files until the first customer with key, for
// explain; its state is left empty, and values of it that do not convert
// are its FactErrors. Bad rows of other customers are not reported.
func (s *Source) FindFacts(ctx context.Context, rs *rules.RuleSet, key string) (*engine.Customer, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	if err := checkHeaders(s, rs, files); err != nil {
		return nil, err
	}
	var found *engine.Customer
	for _, f := range files {
		// A row that is no customer comes with no key.
		err := scan(ctx, f, rs, func(_ int, c engine.Customer, _ []problem) error {
			if c.Key != key || key == "" {
				return nil
			}
			found = &c
			return errFound
		})
		if errors.Is(err, errFound) {
			return found, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no customer %q in %s", key, label(s, files))
}

// Modified returns the newest modification time of the files the pattern
// matches now, for a fresh_within check on the source; see
// reader.Modified for the files of one pass.
func (s *Source) Modified() (time.Time, error) {
	files, err := s.files()
	if err != nil {
		return time.Time{}, err
	}
	return modified(files)
}

// Modified returns the newest modification time of the files this pass
// reads (those the pattern matched when it was opened), for a
// fresh_within check: a run reads it through an interface of its own,
// interface{ Modified() (time.Time, error) }.
func (r *reader) Modified() (time.Time, error) { return modified(r.files) }

func modified(files []file) (time.Time, error) {
	var newest time.Time
	for _, f := range files {
		fi, err := os.Stat(f.path)
		if err != nil {
			return time.Time{}, fmt.Errorf("facts file: %w", err)
		}
		if t := fi.ModTime(); t.After(newest) {
			newest = t
		}
	}
	return newest, nil
}
