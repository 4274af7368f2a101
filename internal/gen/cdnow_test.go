package gen_test

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/gen"
)

// cdnowPath is the real CDNOW transaction log (see its README); it is
// read in place and never copied into the project.
const cdnowPath = "../../../shared/data/cdnow/CDNOW_master.txt"

// topShare is the share of all spend that the top frac of spenders make.
func topShare(spend []float64, frac float64) float64 {
	s := append([]float64(nil), spend...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	var total, top float64
	k := int(float64(len(s)) * frac)
	for i, v := range s {
		total += v
		if i < k {
			top += v
		}
	}
	return top / total
}

// cdnowSpend sums each CDNOW customer's purchases over the 18 months.
func cdnowSpend(t *testing.T) []float64 {
	t.Helper()
	f, err := os.Open(cdnowPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("the CDNOW data is not at %s", cdnowPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byCustomer := map[string]float64{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			t.Fatalf("%s: unexpected line %q", cdnowPath, sc.Text())
		}
		v, err := strconv.ParseFloat(fields[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		byCustomer[fields[0]] += v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	out := make([]float64, 0, len(byCustomer))
	for _, v := range byCustomer {
		out = append(out, v)
	}
	return out
}

// The generator's spend is as concentrated as a real retailer's. CDNOW
// is a cohort: customers whose first purchase was in one quarter,
// followed for the 15 to 18 months after. The same cohort here is the
// customers whose first order was 15 to 18 months before the snapshot,
// whose spend over the last 24 months is all they ever spent. The share
// of that spend made by the top 1%, 10% and 20% must be within a few
// points of CDNOW's.
func TestSpendShapeMatchesCDNOW(t *testing.T) {
	t.Parallel()
	cdnow := cdnowSpend(t)
	if len(cdnow) != 23570 {
		t.Fatalf("CDNOW: %d customers, want 23570", len(cdnow))
	}
	g, err := gen.Retail(gen.Config{Customers: 200000, Seed: 7, AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	from, to := asOf.AddDate(0, -18, 0), asOf.AddDate(0, -15, 0)
	var ours []float64
	for c, ok := g.Next(); ok; c, ok = g.Next() {
		if !c.FirstOrderAt.Before(from) && c.FirstOrderAt.Before(to) && !c.LastOrderAt.IsZero() {
			ours = append(ours, c.Spend12m+c.SpendPrev12m)
		}
	}
	t.Logf("cohort: %d customers", len(ours))
	for _, tc := range []struct {
		frac, tolerance float64
	}{{0.01, 0.05}, {0.10, 0.08}, {0.20, 0.08}} {
		want, got := topShare(cdnow, tc.frac), topShare(ours, tc.frac)
		t.Logf("top %2.0f%% of customers make %4.1f%% of spend (CDNOW %4.1f%%)", tc.frac*100, got*100, want*100)
		if d := got - want; d < -tc.tolerance || d > tc.tolerance {
			t.Errorf("top %.0f%%: %.1f%% of spend, CDNOW %.1f%%: more than %.0f points apart", tc.frac*100, got*100, want*100, tc.tolerance*100)
		}
	}
}
