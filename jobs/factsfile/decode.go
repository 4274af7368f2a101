package factsfile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// maxLine is the longest JSON Lines line a file may hold.
const maxLine = 16 << 20

// decoder reads one file's rows, one line's values at a time.
type decoder interface {
	// columns lists the file's columns: its CSV header, or the keys of its
	// first JSON object, in file order; nil for a JSON Lines file with no
	// object.
	columns() ([]string, error)
	// bind names the columns next returns, in order.
	bind(names []string)
	// next sets vals to the values of the bound columns in the next row:
	// strings from CSV, JSON values (numbers as json.Number) from JSON
	// Lines, absent for a column the row lacks. It returns the row's line
	// number; io.EOF after the last row; a lineError for a row that
	// cannot be decoded, after which reading goes on; any other error
	// when the file cannot be read further.
	next(vals []any) (line int, err error)
	Close() error
}

// absent is the value of a column a row lacks.
var absent = struct{ absent bool }{true}

// lineError is a row that cannot be decoded.
type lineError string

func (e lineError) Error() string { return string(e) }

// open opens f for reading, decompressing gzip data.
func open(f file) (decoder, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("facts file: %w", err)
	}
	r, err := decompress(f.path, fh)
	if err != nil {
		fh.Close()
		return nil, err
	}
	d, err := newDecoder(f, r, fh)
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return d, nil
}

// decompress returns a reader of fh's content, decompressed when it starts
// with the gzip magic bytes.
func decompress(path string, fh *os.File) (io.Reader, error) {
	br := bufio.NewReaderSize(fh, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: not readable gzip data: %w", path, err)
		}
		return zr, nil
	}
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		return nil, fmt.Errorf("%s: not gzip data, despite its .gz extension; compress it with gzip, or rename it", path)
	}
	return br, nil
}

func newDecoder(f file, r io.Reader, c io.Closer) (decoder, error) {
	if f.csv() {
		return newCSV(r, c)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	return &jsonlDecoder{sc: sc, closer: c}, nil
}

type csvDecoder struct {
	r      *csv.Reader
	closer io.Closer
	header []string
	idx    []int
}

func newCSV(r io.Reader, c io.Closer) (*csvDecoder, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	h, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: the first line must be the header")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the header line: %w", err)
	}
	header := make([]string, len(h))
	for i, name := range h {
		header[i] = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
	}
	return &csvDecoder{r: cr, closer: c, header: header}, nil
}

func (d *csvDecoder) columns() ([]string, error) { return d.header, nil }
func (d *csvDecoder) Close() error               { return d.closer.Close() }

func (d *csvDecoder) bind(names []string) {
	d.idx = make([]int, len(names))
	for i, n := range names {
		d.idx[i] = indexOf(d.header, n)
	}
}

func (d *csvDecoder) next(vals []any) (int, error) {
	rec, err := d.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return 0, err
		}
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return pe.StartLine, lineError(fmt.Sprintf("%d fields, but the header has %d", len(rec), len(d.header)))
		}
		return pe.StartLine, lineError("malformed CSV: " + pe.Err.Error())
	}
	line, _ := d.r.FieldPos(0)
	for i, j := range d.idx {
		if j < 0 {
			vals[i] = absent
		} else {
			vals[i] = rec[j]
		}
	}
	return line, nil
}

type jsonlDecoder struct {
	sc     *bufio.Scanner
	closer io.Closer
	line   int
	names  []string
	keys   []string
	seen   bool // the first object was read, and keys set
	// pending is a row read ahead by columns, for next to return.
	pending *jsonRow
}

type jsonRow struct {
	line int
	obj  map[string]any
	err  error
}

func (d *jsonlDecoder) bind(names []string) { d.names = names }
func (d *jsonlDecoder) Close() error        { return d.closer.Close() }

func (d *jsonlDecoder) columns() ([]string, error) {
	if !d.seen && d.pending == nil {
		row := d.read()
		if row.err != nil && !isLineError(row.err) && !errors.Is(row.err, io.EOF) {
			return nil, row.err
		}
		d.pending = &row
	}
	return d.keys, nil
}

func (d *jsonlDecoder) next(vals []any) (int, error) {
	var row jsonRow
	if d.pending != nil {
		row, d.pending = *d.pending, nil
	} else {
		row = d.read()
	}
	if row.err != nil {
		return row.line, row.err
	}
	for i, n := range d.names {
		v, ok := row.obj[n]
		if !ok {
			v = absent
		}
		vals[i] = v
	}
	return row.line, nil
}

// read decodes the next non-blank line.
func (d *jsonlDecoder) read() jsonRow {
	for d.sc.Scan() {
		d.line++
		text := d.sc.Bytes()
		if d.line == 1 {
			// A byte order mark, as some exporters write (CSV allows it too).
			text = bytes.TrimPrefix(text, []byte("\ufeff"))
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		obj, err := decodeObject(text)
		if err != nil {
			return jsonRow{line: d.line, err: err}
		}
		if !d.seen {
			d.seen = true
			d.keys = objectKeys(text, obj)
		}
		return jsonRow{line: d.line, obj: obj}
	}
	err := d.sc.Err()
	switch {
	case errors.Is(err, bufio.ErrTooLong):
		return jsonRow{err: fmt.Errorf("line %d is longer than %d MiB", d.line+1, maxLine>>20)}
	case err != nil:
		return jsonRow{err: fmt.Errorf("line %d: %w", d.line+1, err)}
	}
	return jsonRow{err: io.EOF}
}

// decodeObject decodes one line holding one JSON object.
func decodeObject(text []byte) (map[string]any, error) {
	if text[0] != '{' {
		return nil, lineError(`not a JSON object: each line must hold one object, such as {"customer_id": "c1", ...}`)
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, lineError("not a JSON object: " + err.Error())
	}
	if dec.InputOffset() < int64(len(text)) {
		return nil, lineError("more than one JSON value on the line: each line must hold one object")
	}
	return obj, nil
}

// objectKeys returns the keys of the object text in file order; obj is
// its decoded form, whose keys are used should the order not be readable.
func objectKeys(text []byte, obj map[string]any) []string {
	dec := json.NewDecoder(bytes.NewReader(text))
	var keys []string
	if _, err := dec.Token(); err == nil { // {
		for dec.More() {
			t, err := dec.Token()
			k, ok := t.(string)
			var skip json.RawMessage
			if err != nil || !ok || dec.Decode(&skip) != nil {
				keys = nil
				break
			}
			if indexOf(keys, k) < 0 {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) != len(obj) {
		keys = keys[:0]
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	if keys == nil {
		keys = []string{} // an empty object: no columns, but an object
	}
	return keys
}

func isLineError(err error) bool {
	var le lineError
	return errors.As(err, &le)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
