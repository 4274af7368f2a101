package population

import (
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// docTable returns the cells of the rows of the markdown table of
// docs/population.md whose header starts with header.
func docTable(t *testing.T, header string) [][]string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/population.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "\n"+header)
	if !ok {
		t.Fatalf("docs/population.md has no table starting %q", header)
	}
	var rows [][]string
	for _, line := range strings.Split(rest, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	return rows
}

func number(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("docs/population.md: %q in a table is not a number", s)
	}
	return v
}

// TestDocsRFMExample: the RFM table of docs/population.md is what RFM
// computes for its ten customers.
func TestDocsRFMExample(t *testing.T) {
	rows := docTable(t, "| customer | days since last order |")
	cols := []*Column{NewColumn("recency_days", Options{}), NewColumn("orders_12m", Options{}), NewColumn("spend_12m", Options{})}
	for _, r := range rows {
		for i, c := range cols {
			_ = c.Add(number(t, r[i+1]), true)
		}
	}
	for _, c := range cols {
		_ = c.Freeze()
	}
	rfm, err := NewRFM(cols[0], cols[1], cols[2], 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 10 {
		t.Fatalf("the RFM example has %d customers, want 10", len(rows))
	}
	for _, r := range rows {
		s := rfm.Score(number(t, r[1]), number(t, r[2]), number(t, r[3]))
		got := []string{strconv.Itoa(s.R), strconv.Itoa(s.F), strconv.Itoa(s.M), s.Code()}
		if strings.Join(got, " ") != strings.Join(r[4:], " ") {
			t.Errorf("docs/population.md, RFM example, customer %s: the docs say %v, RFM gives %v", r[0], r[4:], got)
		}
	}
}

// TestDocsABCExample: the ABC table of docs/population.md is what ABC
// computes for its values.
func TestDocsABCExample(t *testing.T) {
	rows := docTable(t, "| spend | share above |")
	c := NewColumn("spend_12m", Options{})
	total := 0.0
	for _, r := range rows {
		v := number(t, r[0])
		_ = c.Add(v, true)
		total += max(v, 0)
	}
	_ = c.Freeze()
	cuts, _ := NewCuts(0.8, 0.95)
	for _, r := range rows {
		v := number(t, r[0])
		share := c.ShareAbove(v)
		running := min(share+max(v, 0)/total, 1)
		if math.Abs(share-number(t, r[1])) > 1e-9 || math.Abs(running-number(t, r[2])) > 1e-9 || c.ABC(v, cuts) != r[3] {
			t.Errorf("docs/population.md, ABC example, spend %v: the docs say %v, ABC gives share %v, running %v, class %s", v, r[1:], share, running, c.ABC(v, cuts))
		}
	}
}

// TestDocsValueError: the error docs/population.md shows is the one Add
// returns.
func TestDocsValueError(t *testing.T) {
	err := NewColumn("spend_12m", Options{}).Add(math.Inf(1), true)
	doc, _ := os.ReadFile("../../docs/population.md")
	if err == nil || !strings.Contains(string(doc), "\n"+err.Error()+"\n") {
		t.Errorf("docs/population.md does not show the error Add returns for +Inf:\n%v", err)
	}
}
