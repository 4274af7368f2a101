package jobs_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/rules"
)

// genFacts generates n customers on the fly, holding none of them: keys
// c0000001... in key order, or, when shuffled, in a fixed permutation
// (i*7919 mod n: a prime coprime with the sizes used), as an unordered
// source such as a warehouse query returns them. fact makes customer i's
// value of the one fact it provides.
type genFacts struct {
	n        int
	shuffled bool
	fact     func(i int) any
}

func (g genFacts) OpenFacts(context.Context, *rules.RuleSet) (jobs.FactsReader, error) {
	return genReader(g), nil
}

type genReader genFacts

func (g genReader) Ordered() bool                        { return !g.shuffled }
func (g genReader) Count(context.Context) (int64, error) { return int64(g.n), nil }
func (g genReader) Close() error                         { return nil }
func (g genReader) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	batch := make([]engine.Customer, 0, batchSize)
	for k := range g.n {
		i := k
		if g.shuffled {
			i = int(int64(k) * 7919 % int64(g.n))
		}
		batch = append(batch, engine.Customer{Key: benchKey(i), Facts: []any{g.fact(i)}})
		if len(batch) == batchSize {
			if err := fn(batch); err != nil {
				return err
			}
			batch = make([]engine.Customer, 0, batchSize)
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

func benchKey(i int) string { return fmt.Sprintf("c%07d", i) }

const mergeRules = `
ruleset: merged
facts:
  spend_12m: number
  channel: string?
  consent: bool?
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 900 && consent == true
      - name: regular
        when: spend_12m >= 100 || channel == "store"
      - name: small
        fallback: true
`

// writeConsentCSV writes a CSV of every other customer's consent flag, in
// the same shuffled order, the third source.
func writeConsentCSV(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "customer_id,consent")
	for k := range n {
		i := int(int64(k) * 7919 % int64(n))
		if i%2 == 0 {
			fmt.Fprintf(w, "%s,%t\n", benchKey(i), i%4 == 0)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMergeThreeSources plans a rule set whose facts come from three
// sources merged on the key: an ordered primary (as a SQL source is), an
// unordered secondary, and a CSV file of half the customers; the two
// unordered ones are sorted on disk. TIERFLOW_BENCH_CUSTOMERS sets the
// size (default 100,000); peak RSS is read with /usr/bin/time -v (see
// docs/benchmarks.md), and the benchmark reports the Go heap's peak.
func BenchmarkMergeThreeSources(b *testing.B) {
	n := 100000
	if s := os.Getenv("TIERFLOW_BENCH_CUSTOMERS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	rs, err := rules.Compile("merged.yaml", []byte(mergeRules), rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	csvPath := filepath.Join(b.TempDir(), "consent.csv")
	writeConsentCSV(b, csvPath, n)
	consent, err := factsfile.Open(csvPath, "")
	if err != nil {
		b.Fatal(err)
	}
	channels := []string{"online", "store", "partner"}
	ss := jobs.Sources{
		{Name: "crm", Facts: genFacts{n: n, fact: func(i int) any { return float64(i % 1000) }}},
		{Name: "warehouse", Facts: genFacts{n: n, shuffled: true, fact: func(i int) any { return channels[i%3] }}, Provides: []string{"channel"}},
		{Name: "consent", Facts: consent, Provides: []string{"consent"}},
	}
	opts := jobs.Options{AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), Guard: jobs.DefaultGuard}
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	for range b.N {
		out, err := jobs.Plan(context.Background(), jobs.NoState{}, ss, rs, opts)
		if err != nil {
			b.Fatal(err)
		}
		if out.Report.Customers != n {
			b.Fatalf("%d customers, want %d", out.Report.Customers, n)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/customer")
}
