package factsfile_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/rules"
)

// ruleSet is the rule set most tests read facts for.
const ruleSet = `ruleset: t
facts:
  spend: number
  orders: integer?
  region: string
  last_order_at: {type: time, nullable: true}
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
`

func compile(t *testing.T, src string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("t.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return rs
}

// write writes content to dir/name, gzipped when gz is set, and returns
// the path.
func write(t *testing.T, dir, name, content string, gz bool) string {
	t.Helper()
	data := []byte(content)
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = b.Bytes()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func open(t *testing.T, pattern, format string) *factsfile.Source {
	t.Helper()
	src, err := factsfile.Open(pattern, format)
	if err != nil {
		t.Fatalf("Open(%q, %q): %v", pattern, format, err)
	}
	return src
}

// stream reads every batch of src.
func stream(t *testing.T, src *factsfile.Source, rs *rules.RuleSet, batchSize int) ([][]engine.Customer, error) {
	t.Helper()
	ctx := context.Background()
	fr, err := src.OpenFacts(ctx, rs)
	if err != nil {
		t.Fatalf("OpenFacts: %v", err)
	}
	defer fr.Close()
	var batches [][]engine.Customer
	err = fr.Stream(ctx, batchSize, func(b []engine.Customer) error {
		batches = append(batches, b)
		return nil
	})
	return batches, err
}

// all streams src and fails the test on an error.
func all(t *testing.T, src *factsfile.Source, rs *rules.RuleSet) []engine.Customer {
	t.Helper()
	batches, err := stream(t, src, rs, 1000)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	var out []engine.Customer
	for _, b := range batches {
		out = append(out, b...)
	}
	return out
}

func keys(cs []engine.Customer) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Key
	}
	return out
}
