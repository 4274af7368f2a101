package predict_test

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/predict"
)

// cdnowDir is the real CDNOW data (see its README), read in place from the
// folder next to the repository and never copied into the project.
const cdnowDir = "../../../shared/data/cdnow/"

// cdnowCalibration is the paper's calibration period: 39 weeks from
// 1997-01-01, the summary's T measured to 1997-09-30.
var cdnowCalibration = predict.Calibration{End: time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC), Unit: predict.Weeks}

// openCDNOW opens a file of the CDNOW folder. Missing data skips the test
// locally and fails it under CI, which has the data.
func openCDNOW(t testing.TB, name string) *os.File {
	t.Helper()
	f, err := os.Open(cdnowDir + name)
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") == "" {
		t.Skipf("the CDNOW data is not at %s", cdnowDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// cdnowSample reads the 1/10 sample's transactions by the sample's
// customer ID (1 to 2,357): lines of customer_id sample_id yyyymmdd
// number_of_cds dollar_value, no header.
func cdnowSample(t testing.TB) map[int][]predict.Transaction {
	t.Helper()
	f := openCDNOW(t, "CDNOW_sample.txt")
	defer f.Close()
	byCustomer := map[int][]predict.Transaction{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 5 {
			t.Fatalf("CDNOW_sample.txt:%d: %d fields, want 5", line, len(fields))
		}
		id, err1 := strconv.Atoi(fields[1])
		day, err2 := time.Parse("20060102", fields[2])
		amount, err3 := strconv.ParseFloat(fields[4], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("CDNOW_sample.txt:%d: %v", line, err)
		}
		byCustomer[id] = append(byCustomer[id], predict.Transaction{Time: day, Amount: amount})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return byCustomer
}

// cdnowCustomer is one customer of the sample, summarised by tierflow.
type cdnowCustomer struct {
	id      int
	summary predict.Summary
	spend   predict.Spend
}

var (
	cdnowOnce      sync.Once
	cdnowCustomers []cdnowCustomer
	cdnowErr       error
)

// cdnowSummaries returns tierflow's own summary of every customer of the
// sample for the calibration period, by ID.
func cdnowSummaries(t testing.TB) []cdnowCustomer {
	t.Helper()
	sample := cdnowSample(t)
	cdnowOnce.Do(func() {
		for id := 1; id <= len(sample); id++ {
			s, sp, err := predict.Summarize(sample[id], cdnowCalibration)
			if err != nil {
				cdnowErr = errors.Join(cdnowErr, err)
			}
			cdnowCustomers = append(cdnowCustomers, cdnowCustomer{id: id, summary: s, spend: sp})
		}
	})
	if cdnowErr != nil {
		t.Fatal(cdnowErr)
	}
	return cdnowCustomers
}

func summariesOf(cs []cdnowCustomer) []predict.Summary {
	out := make([]predict.Summary, len(cs))
	for i, c := range cs {
		out[i] = c.summary
	}
	return out
}
