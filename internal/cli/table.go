package cli

import (
	"io"
	"strings"
	"unicode/utf8"
)

// cell is one table cell: its text and an optional colour applied after padding,
// so escape codes never upset the column widths.
type cell struct {
	text  string
	color color
}

// table is a kubectl-style table: columns separated by three spaces, the last
// column unpadded.
type table struct {
	rows [][]cell
}

func (t *table) header(names ...string) {
	row := make([]cell, len(names))
	for i, n := range names {
		row[i] = cell{text: n}
	}
	t.rows = append(t.rows, row)
}

func (t *table) add(cells ...cell) { t.rows = append(t.rows, cells) }

// write renders the table with an indent, colouring cells when p says so.
func (t *table) write(w io.Writer, indent string, p palette) error {
	widths := map[int]int{}
	for _, row := range t.rows {
		for i, c := range row {
			if n := utf8.RuneCountInString(c.text); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var b strings.Builder
	for _, row := range t.rows {
		b.WriteString(indent)
		for i, c := range row {
			text := c.text
			if i < len(row)-1 {
				text += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+3)
			}
			b.WriteString(p.paint(c.color, text))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
