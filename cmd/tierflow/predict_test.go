package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cdnowSample is the 1/10 sample of the CDNOW transactions (see its
// README), read in place and never copied into the project.
const cdnowSample = "../../../shared/data/cdnow/CDNOW_sample.txt"

// cdnowRules predicts from the CDNOW purchases, at the end of the paper's
// 39-week calibration period.
const cdnowRules = `ruleset: cdnow
transactions: {time: ordered_at, amount: amount}
facts:
  cohort: string
derived:
  p_alive: p_alive()
  next_39w: expected_purchases(273d)
segmentations:
  - name: risk
    segments:
      - name: churning
        when: cohort == "1997Q1" && p_alive != nil && p_alive < 0.3 && next_39w >= 0
      - name: ok
        fallback: true
`

// cdnowProject writes the CDNOW sample as a customers file and an orders
// file: one row per purchase record, the day as its time.
func cdnowProject(t *testing.T) string {
	t.Helper()
	f, err := os.Open(cdnowSample)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("the CDNOW data is not at %s", cdnowSample)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var orders strings.Builder
	orders.WriteString("customer_id,ordered_at,amount\n")
	seen := map[int]bool{}
	var ids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Fields(sc.Text())
		if len(p) != 5 {
			continue
		}
		id, err := strconv.Atoi(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		d := p[2]
		orders.WriteString(strconv.Itoa(id) + "," + d[:4] + "-" + d[4:6] + "-" + d[6:] + "," + p[4] + "\n")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var customers strings.Builder
	customers.WriteString("customer_id,cohort\n")
	for _, id := range ids {
		customers.WriteString(strconv.Itoa(id) + ",1997Q1\n")
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules/cdnow.yaml": cdnowRules,
		"customers.csv":    customers.String(),
		"orders.csv":       orders.String(),
		"tierflow.yaml":    "database: {path: state.db}\nrulesets:\n  - rules: rules/cdnow.yaml\n    source: {file: customers.csv}\n    transactions: {file: orders.csv}\n",
	})
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	return config
}

// Applied to the CDNOW sample at the end of the paper's calibration
// period, the BG/NBD fit behind p_alive reproduces the paper's
// parameters; tierflow runs and the HTML report show the fit.
func TestPredictedFactsCDNOW(t *testing.T) {
	t.Parallel()
	config := cdnowProject(t)
	runCLI(t, nil, "apply", "--config", config, "--as-of", "1997-09-30").want(t, exitOK)
	r := runCLI(t, nil, "runs", "--config", config, "--format", "json").want(t, exitOK)
	var doc struct {
		Runs []struct {
			Customers int `json:"customers"`
			Derived   struct {
				Customers int `json:"customers_with_transactions"`
				Models    []struct {
					Model      string             `json:"model"`
					Converged  bool               `json:"converged"`
					Customers  int                `json:"customers"`
					Parameters map[string]float64 `json:"parameters"`
				} `json:"models"`
			} `json:"derived"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	run := doc.Runs[0]
	if run.Customers != 2357 || run.Derived.Customers != 2357 || len(run.Derived.Models) != 1 || !run.Derived.Models[0].Converged || run.Derived.Models[0].Customers != 2357 {
		t.Fatalf("run %+v", run)
	}
	for name, want := range map[string]float64{"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426} {
		if got := run.Derived.Models[0].Parameters[name]; math.Abs(got-want) > 0.005 {
			t.Errorf("%s = %.4f, the paper's %.3f", name, got, want)
		}
	}
	r = runCLI(t, nil, "runs", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "bg/nbd converged: r=0.2426 alpha=4.414 a=0.7929 b=2.426, log-likelihood -9582.4, 2,357 customers") {
		t.Errorf("runs:\n%s", r.stdout)
	}
	out := filepath.Join(filepath.Dir(config), "report.html")
	runCLI(t, nil, "report", "--config", config, "--since", "1997-01-01", "--until", "1997-12-31", "--out", out).want(t, exitOK)
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "<td>cdnow</td><td>1</td><td>1997-09-30</td><td>bg/nbd</td><td>yes</td><td>r = 0.2426, alpha = 4.414, a = 0.7929, b = 2.426</td>") {
		t.Error("the report has no table of the fit")
	}
}

// A fit that cannot be made fails the run, with why, and nothing is
// applied: here a population with one repeat customer.
func TestPredictedFactsFitFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules/cdnow.yaml": cdnowRules,
		"customers.csv":    "customer_id,cohort\n1,1997Q1\n2,1997Q1\n",
		"orders.csv":       "customer_id,ordered_at,amount\n1,1997-01-01,10\n1,1997-02-01,10\n2,1997-01-05,10\n",
		"tierflow.yaml":    "database: {path: state.db}\nrulesets:\n  - rules: rules/cdnow.yaml\n    source: {file: customers.csv}\n    transactions: {file: orders.csv}\n",
	})
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	r := runCLI(t, nil, "apply", "--config", config, "--as-of", "1997-09-30").want(t, exitFailure)
	if !strings.Contains(r.stderr, "predicted facts of cdnow: the BG/NBD fit failed: bg/nbd fit: 1 of 2 customers made a repeat purchase; at least 30 are needed") {
		t.Errorf("apply:\n%s", r)
	}
	r = runCLI(t, nil, "runs", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "failed") || !strings.Contains(r.stdout, "at least 30 are needed") {
		t.Errorf("runs:\n%s", r.stdout)
	}
}
