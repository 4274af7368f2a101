package views

import (
	"io"
	"strings"
)

// columns is a text table whose widths are measured from its cells, in
// display columns, so that labels such as 客户 line up. A column is
// left-aligned unless its header is listed in right; the last column is
// never padded.
type columns struct {
	header []string
	right  map[string]bool
	rows   [][]string
}

func newColumns(header []string, right ...string) *columns {
	c := &columns{header: header, right: map[string]bool{}}
	for _, h := range right {
		c.right[h] = true
	}
	return c
}

// add appends a row of cells, one per header.
func (c *columns) add(cells ...string) { c.rows = append(c.rows, cells) }

// write writes the header and the rows, each line after indent.
func (c *columns) write(w io.Writer, indent string) {
	widths := make([]int, len(c.header))
	for _, row := range append([][]string{c.header}, c.rows...) {
		for i, cell := range row {
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}
	for _, row := range append([][]string{c.header}, c.rows...) {
		var b strings.Builder
		b.WriteString(indent)
		for i, cell := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			switch {
			case c.right[c.header[i]]:
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(cell)) + cell)
			case i < len(row)-1:
				b.WriteString(pad(cell, widths[i]))
			default:
				b.WriteString(cell)
			}
		}
		io.WriteString(w, strings.TrimRight(b.String(), " ")+"\n") //nolint:errcheck // written to a buffer
	}
}
