package gen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// WriteCSV writes a header of column names and one line per row. Numbers
// are written in full ("1234.5"), dates as 2024-06-30, times in RFC 3339
// (UTC), nulls as an empty field. It returns the number of rows written.
func WriteCSV(w io.Writer, src Rows) (int64, error) {
	cols := src.Columns()
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	for i, c := range cols {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendCSVText(line, c.Name)
	}
	line = append(line, '\n')
	var n int64
	row := make([]Value, len(cols))
	for {
		if _, err := bw.Write(line); err != nil {
			return n, err
		}
		if !src.NextRow(row) {
			break
		}
		line = line[:0]
		for i, c := range cols {
			if i > 0 {
				line = append(line, ',')
			}
			switch {
			case row[i].Null:
			case c.Kind == KindText:
				line = appendCSVText(line, row[i].Text)
			default:
				line = appendValue(line, c.Kind, &row[i])
			}
		}
		line = append(line, '\n')
		n++
	}
	return n, bw.Flush()
}

// appendCSVText quotes a field when it needs it (RFC 4180).
func appendCSVText(b []byte, s string) []byte {
	quote := s == ""
	for i := 0; i < len(s) && !quote; i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			quote = true
		}
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// WriteJSONL writes one JSON object per row and line, keyed by column
// name, with values typed as in CSV: numbers, dates and times as strings,
// nulls as null. It returns the number of rows written.
func WriteJSONL(w io.Writer, src Rows) (int64, error) {
	cols := src.Columns()
	keys := make([][]byte, len(cols))
	for i, c := range cols {
		prefix := ","
		if i == 0 {
			prefix = "{"
		}
		keys[i] = appendJSONString([]byte(prefix), c.Name)
		keys[i] = append(keys[i], ':')
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	var n int64
	row := make([]Value, len(cols))
	for src.NextRow(row) {
		line = line[:0]
		for i, c := range cols {
			line = append(line, keys[i]...)
			switch {
			case row[i].Null:
				line = append(line, "null"...)
			case c.Kind == KindText:
				line = appendJSONString(line, row[i].Text)
			case c.Kind == KindDate || c.Kind == KindTime:
				line = append(line, '"')
				line = appendValue(line, c.Kind, &row[i])
				line = append(line, '"')
			default:
				line = appendValue(line, c.Kind, &row[i])
			}
		}
		line = append(line, "}\n"...)
		if _, err := bw.Write(line); err != nil {
			return n, err
		}
		n++
	}
	return n, bw.Flush()
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// appendValue formats a non-text, non-null value of a column.
func appendValue(b []byte, k Kind, v *Value) []byte {
	switch k {
	case KindID, KindInteger:
		return strconv.AppendInt(b, v.Int, 10)
	case KindNumber:
		return appendNumber(b, v.Num)
	case KindDate:
		return v.Time.AppendFormat(b, time.DateOnly)
	case KindTime:
		return v.Time.UTC().AppendFormat(b, time.RFC3339)
	}
	panic(fmt.Sprintf("gen: column kind %d is not a value kind", k))
}

// appendNumber writes a number in full, without an exponent, in the
// fewest digits that read back as the same float64.
func appendNumber(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		panic(fmt.Sprintf("gen: %v is not a number a file can hold", f))
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}
