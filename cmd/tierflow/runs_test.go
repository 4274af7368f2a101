package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runs --segments shows the class sizes each succeeded run recorded;
// json and csv always carry them, and plain text does not change.
func TestRunsSegments(t *testing.T) {
	t.Parallel()
	config := followUpProject(t)
	applyFollowUps(t, config)
	// Everyone lapsed: the guard blocks the move of most customers.
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "facts.csv"), []byte(spendFacts(func(int) bool { return true })), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, nil, "apply", "--ruleset", "shop", "--quiet", "--as-of", "2024-07-02", "--config", config); !strings.Contains(r.stderr, "blocked") {
		t.Fatalf("an apply that moves most customers was not blocked: %s", r)
	}
	plain := runCLI(t, nil, "runs", "--ruleset", "shop", "--config", config).want(t, exitOK)
	if strings.Contains(plain.stdout, "tier:") {
		t.Errorf("runs without --segments shows them:\n%s", plain.stdout)
	}
	r := runCLI(t, nil, "runs", "--ruleset", "shop", "--segments", "--config", config).want(t, exitOK)
	lines := strings.Split(r.stdout, "\n")
	if len(lines) != 7 || !strings.Contains(lines[1], "blocked") || !strings.Contains(lines[2], "succeeded") ||
		lines[3] != "       tier: vip 25  small 9  lapsed 6" || lines[5] != "       tier: vip 31  small 9  lapsed 0" {
		t.Errorf("runs --segments: the sizes under each succeeded run, none under the blocked one:\n%s", r.stdout)
	}
	if without := strings.Join([]string{lines[0], lines[1], lines[2], lines[4], ""}, "\n"); without != plain.stdout {
		t.Errorf("runs --segments, without the sizes, is not runs:\n%s\nwant\n%s", without, plain.stdout)
	}

	r = runCLI(t, nil, "runs", "--ruleset", "shop", "--format", "json", "--config", config).want(t, exitOK)
	var doc struct {
		Runs []struct {
			Status   string `json:"status"`
			Segments []struct {
				Segmentation string `json:"segmentation"`
				Segment      string `json:"segment"`
				Customers    int    `json:"customers"`
			} `json:"segments"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Runs) != 3 || len(doc.Runs[0].Segments) != 0 ||
		len(doc.Runs[1].Segments) != 3 || doc.Runs[1].Segments[2].Segment != "lapsed" || doc.Runs[1].Segments[2].Customers != 6 {
		t.Errorf("runs --format json: %v\n%s", err, r.stdout)
	}
	r = runCLI(t, nil, "runs", "--ruleset", "shop", "--format", "csv", "--config", config).want(t, exitOK)
	if !strings.HasSuffix(strings.Split(r.stdout, "\n")[0], ",error,segments") || !strings.Contains(r.stdout, ",tier.vip=25; tier.small=9; tier.lapsed=6\n") {
		t.Errorf("runs --format csv:\n%s", r.stdout)
	}
	r = runCLI(t, nil, "runs", "--ruleset", "shop", "--segments", "--format", "markdown", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "| error | segments |") || !strings.Contains(r.stdout, "`tier`: vip 25, small 9, lapsed 6 |") {
		t.Errorf("runs --segments --format markdown:\n%s", r.stdout)
	}
}
