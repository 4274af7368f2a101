package predict_test

import (
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/predict"
)

// summaryRow is one row of cdnow_customers_summary.csv.
type summaryRow struct {
	id           int
	x            float64
	recency, age string
}

// cdnowSummaryCSV reads cdnow_customers_summary.csv (ID,frequency,recency,T).
func cdnowSummaryCSV(t *testing.T) []summaryRow {
	t.Helper()
	f := openCDNOW(t, "cdnow_customers_summary.csv")
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(records[0], ",") != "ID,frequency,recency,T" {
		t.Fatalf("cdnow_customers_summary.csv: header %q", records[0])
	}
	var rows []summaryRow
	for i, r := range records[1:] {
		id, err1 := strconv.Atoi(r[0])
		x, err2 := strconv.Atoi(r[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("cdnow_customers_summary.csv:%d: %q", i+2, r)
		}
		rows = append(rows, summaryRow{id: id, x: float64(x), recency: r[2], age: r[3]})
	}
	return rows
}

// decimals returns the number of digits after the point the column prints
// at most.
func decimals(cells []string) int {
	d := 0
	for _, c := range cells {
		if _, frac, ok := strings.Cut(c, "."); ok {
			d = max(d, len(frac))
		}
	}
	return d
}

// printedAs reports whether v, rounded to d decimals, is the number cell.
func printedAs(v float64, cell string, d int) bool {
	want, err := strconv.ParseFloat(cell, 64)
	scale := math.Pow(10, float64(d))
	return err == nil && math.Abs(math.Round(v*scale)/scale-want) < 1e-9
}

// TestSummarizeReproducesCDNOWSummary: tierflow's own derivation of
// (frequency, recency, T) from the raw 1/10 sample is the published
// summary, customer by customer: x exactly, t_x and T to the precision the
// CSV prints.
func TestSummarizeReproducesCDNOWSummary(t *testing.T) {
	rows := cdnowSummaryCSV(t)
	got := cdnowSummaries(t)
	if len(rows) != 2357 || len(got) != len(rows) {
		t.Fatalf("%d rows in the summary, %d customers in the sample; want 2,357 of each", len(rows), len(got))
	}
	var rec, age []string
	for _, r := range rows {
		rec, age = append(rec, r.recency), append(age, r.age)
	}
	dRec, dAge := decimals(rec), decimals(age)
	if dRec != 2 || dAge != 2 {
		t.Fatalf("the summary prints %d and %d decimals, want 2", dRec, dAge)
	}
	matched := 0
	for i, r := range rows {
		c := got[i]
		if c.id != r.id || c.summary.X != r.x || !printedAs(c.summary.Tx, r.recency, dRec) || !printedAs(c.summary.T, r.age, dAge) {
			t.Errorf("customer %d: tierflow x=%v t_x=%.4f T=%.4f, the summary %v,%s,%s", r.id, c.summary.X, c.summary.Tx, c.summary.T, r.x, r.recency, r.age)
			continue
		}
		matched++
	}
	if matched != 2357 {
		t.Errorf("%d of 2,357 customers match", matched)
	}
}

// TestFitBGNBDMatchesPaper: on the summary derived from the raw sample, in
// weeks, the fit gives the paper's parameters, log-likelihood and
// conditional expectation (Fader, Hardie and Lee 2005, section 5).
func TestFitBGNBDMatchesPaper(t *testing.T) {
	m, rep, err := predict.FitBGNBD(summariesOf(cdnowSummaries(t)), predict.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fit: %+v", *rep)
	for _, p := range []struct {
		name      string
		got, want float64
	}{{"r", m.R, 0.243}, {"alpha", m.Alpha, 4.414}, {"a", m.A, 0.793}, {"b", m.B, 2.426}} {
		if math.Abs(p.got-p.want) > 0.005 {
			t.Errorf("%s = %.4f, the paper has %.3f", p.name, p.got, p.want)
		}
	}
	if math.Abs(rep.LogLikelihood-(-9582.4)) > 0.1 {
		t.Errorf("log-likelihood %.2f, the paper has -9582.4", rep.LogLikelihood)
	}
	e := m.ExpectedPurchases(predict.Summary{X: 2, Tx: 30.43, T: 38.86}, 39)
	if math.Abs(e-1.226) > 0.005 {
		t.Errorf("expected purchases in 39 weeks for x=2, t_x=30.43, T=38.86: %.4f, the paper has 1.226", e)
	}
	if !rep.Converged || rep.Customers != 2357 || rep.Repeaters != 946 || rep.Groups >= rep.Customers {
		t.Errorf("report %+v: want converged, 2,357 customers, 946 repeaters, fewer groups than customers", *rep)
	}
}

// TestFitGammaGammaMatchesPublished: on the spends derived from the raw
// sample (mean value of the repeat purchase days in the calibration
// period), Gamma-Gamma gives the parameters Fader and Hardie (2013, "The
// Gamma-Gamma model of monetary value") publish for CDNOW, p = 6.25,
// q = 3.74, gamma = 15.44, its log-likelihood -4055.9177 (as CLVTools'
// correctness test has it), and lifetimes' documented conditional
// expected average spend of the first customers.
func TestFitGammaGammaMatchesPublished(t *testing.T) {
	cs := cdnowSummaries(t)
	spends := make([]predict.Spend, len(cs))
	for i, c := range cs {
		spends[i] = c.spend
	}
	m, rep, err := predict.FitGammaGamma(spends, predict.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fit: %+v", *rep)
	for _, p := range []struct {
		name      string
		got, want float64
	}{{"p", m.P, 6.25}, {"q", m.Q, 3.74}, {"gamma", m.Gamma, 15.44}} {
		if math.Abs(p.got-p.want) > 0.005 { // published to 2 decimals
			t.Errorf("%s = %.4f, published %.2f", p.name, p.got, p.want)
		}
	}
	if math.Abs(rep.LogLikelihood-(-4055.9177)) > 0.01 {
		t.Errorf("log-likelihood %.4f, published -4055.9177", rep.LogLikelihood)
	}
	for id, want := range map[int]float64{1: 24.658619, 2: 18.911489, 3: 35.170981, 6: 71.462843, 9: 27.282408} {
		// lifetimes fits means rounded to cents (22.35 for 22.345): 0.005 apart.
		if got := m.ExpectedSpend(cs[id-1].spend); math.Abs(got-want) > 0.01 {
			t.Errorf("customer %d (%+v): expected spend %.4f, lifetimes documents %.4f", id, cs[id-1].spend, got, want)
		}
	}
	if rep.Repeaters != 946 || rep.Customers != 2357 {
		t.Errorf("report %+v: want 946 of 2,357 customers", *rep)
	}
}

// TestFitBGNBDInDays: the unit only scales alpha and the horizon: fitted
// on the same customers in days, alpha is 7 times the weekly one, and the
// other parameters and every customer's scores agree.
func TestFitBGNBDInDays(t *testing.T) {
	sample := cdnowSample(t)
	weeks := summariesOf(cdnowSummaries(t))
	days := make([]predict.Summary, 0, len(weeks))
	c := cdnowCalibration
	c.Unit = predict.Days
	for id := 1; id <= len(sample); id++ {
		s, _, err := predict.Summarize(sample[id], c)
		if err != nil {
			t.Fatal(err)
		}
		days = append(days, s)
	}
	mw, _, err1 := predict.FitBGNBD(weeks, predict.FitOptions{})
	md, _, err2 := predict.FitBGNBD(days, predict.FitOptions{})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if relErr(md.Alpha, 7*mw.Alpha) > 1e-5 || relErr(md.R, mw.R) > 1e-5 || relErr(md.A, mw.A) > 1e-5 || relErr(md.B, mw.B) > 1e-5 {
		t.Errorf("weeks %+v, days %+v: want alpha times 7, the rest equal", *mw, *md)
	}
	for i := range weeks {
		if math.Abs(mw.ExpectedPurchases(weeks[i], 39)-md.ExpectedPurchases(days[i], 273)) > 1e-5 || math.Abs(mw.PAlive(weeks[i])-md.PAlive(days[i])) > 1e-6 {
			t.Fatalf("customer %d scores differently in weeks and in days", i+1)
		}
	}
}

func relErr(got, want float64) float64 { return math.Abs(got/want - 1) }
