package main

import (
	"encoding/xml"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// tierflowBinary builds the command once for tests that run it as a
// subprocess, as CI would.
func tierflowBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tierflow-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "tierflow")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// fixtureRepo makes a rules repository with an origin: main holds the
// retail example and a facts export; the checked-out branch "change"
// edits one line of retail.yaml.
func fixtureRepo(t *testing.T, from, to string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required for the CI recipe test")
	}
	root := t.TempDir()
	origin, work := filepath.Join(root, "origin.git"), filepath.Join(root, "work")
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=ci", "GIT_AUTHOR_EMAIL=ci@example.com",
			"GIT_COMMITTER_NAME=ci", "GIT_COMMITTER_EMAIL=ci@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(work, "rules"), 0o755))
	must(os.MkdirAll(filepath.Join(work, "ci"), 0o755))
	run(root, "init", "-q", "--bare", "-b", "main", origin)
	run(work, "init", "-q", "-b", "main")
	for _, f := range []string{"retail.yaml", "retail_test.yaml"} {
		src, err := os.ReadFile(filepath.Join("../../examples/retail", f))
		must(err)
		must(os.WriteFile(filepath.Join(work, "rules", f), src, 0o644))
	}
	must(os.WriteFile(filepath.Join(work, "ci", "facts.csv"), []byte(factsCSV(400)), 0o644))
	run(work, "add", ".")
	run(work, "commit", "-q", "-m", "rules")
	run(work, "remote", "add", "origin", origin)
	run(work, "push", "-q", "origin", "main")
	run(work, "checkout", "-q", "-b", "change")
	path := filepath.Join(work, "rules", "retail.yaml")
	src, err := os.ReadFile(path)
	must(err)
	if !strings.Contains(string(src), from) {
		t.Fatalf("retail.yaml has no %q to edit", from)
	}
	must(os.WriteFile(path, []byte(strings.Replace(string(src), from, to, 1)), 0o644))
	run(work, "commit", "-q", "-am", "change a threshold")
	return work
}

// factsCSV writes n deterministic retail customers.
func factsCSV(n int) string {
	r := rand.New(rand.NewSource(7))
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString("customer_id,spend_12m,spend_prev_12m,orders_12m,first_order_at,last_order_at,channel\n")
	channels := []string{"online", "store", "partner"}
	for i := 1; i <= n; i++ {
		spend := 80000 * r.Float64() * r.Float64() * r.Float64()
		prev := 80000 * r.Float64() * r.Float64() * r.Float64()
		last := ""
		if r.Intn(20) > 0 {
			last = asOf.AddDate(0, 0, -r.Intn(500)).Format("2006-01-02")
		}
		fmt.Fprintf(&b, "%d,%.2f,%.2f,%d,%s,%s,%s\n", i, spend, prev, r.Intn(12),
			asOf.AddDate(0, 0, -r.Intn(2000)).Format("2006-01-02"), last, channels[i%3])
	}
	return b.String()
}

// recipeSteps returns the shell steps of a CI recipe that involve
// tierflow or git or posting the comment, in order: the steps the test
// can run outside a CI service. Installing tierflow is replaced by the
// binary built here.
func recipeSteps(t *testing.T, file string) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../../examples/ci", file))
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	keep := func(s string) {
		if strings.Contains(s, "go install") {
			return
		}
		if strings.Contains(s, "tierflow ") || strings.Contains(s, "git fetch") || strings.Contains(s, "gh pr comment") {
			steps = append(steps, s)
		}
	}
	if file == "github-actions.yml" {
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Run string `yaml:"run"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(src, &wf); err != nil {
			t.Fatal(err)
		}
		for _, s := range wf.Jobs["preview"].Steps {
			keep(s.Run)
		}
	} else {
		var gl map[string]struct {
			Script []string `yaml:"script"`
		}
		if err := yaml.Unmarshal(src, &gl); err != nil {
			t.Fatal(err)
		}
		for _, s := range gl["tierflow-preview"].Script {
			keep(s)
		}
	}
	if len(steps) < 3 {
		t.Fatalf("%s: found only %d tierflow steps", file, len(steps))
	}
	return steps
}

// TestCIRecipes runs the tierflow steps of both CI recipes against a
// fixture repository, as the CI services would, with the comment-posting
// tools stubbed to record their arguments.
func TestCIRecipes(t *testing.T) {
	bin := tierflowBinary(t)
	exportDay := exportDate(t, factsCSV(400)).AddDate(0, 0, 1).Format("2006-01-02")
	tests := []struct {
		name       string
		from, to   string
		wantPass   bool
		wantInMD   []string
		wantStderr string
		// notInMD must not be in the preview; wantLog is what the job's
		// log must show, by recipe.
		notInMD []string
		wantLog map[string]string
	}{
		{"a small threshold change passes and is previewed", "vip_spend: 50000 ", "vip_spend: 35000 ", true,
			[]string{"tierflow rule-change preview: 零售客户分群 (`retail`)", "would be treated differently", "| key | vip |"}, "", nil, nil},
		{"a change moving more than 5% fails the job", "key_spend: 10000", "key_spend: 2000", false,
			[]string{"**Limit crossed:** --max-moved"}, "limit crossed: --max-moved", nil, nil},
		// The export is years old: previewed as of today, a change of a
		// date threshold would show nothing and warn of stale facts.
		{"an old export is previewed as of its own date", "new_days: 90 ", "new_days: 120 ", true,
			[]string{"customers as of " + exportDay + ".", "would be treated differently", "| active | new |"}, "",
			[]string{"Warning", "look stale"}, map[string]string{"": "previewing as of " + exportDay + ", the day after the newest"}},
		{"a warning annotates its line", "vip_spend: 50000 ", "vip_spend: 50000\n  spare: 1 ", false, nil, "", nil,
			map[string]string{"github-actions.yml": "::warning file=rules/retail.yaml,line=20,col=3,title=params.spare::parameter \"spare\" is never used",
				"gitlab-ci.yml": "rules/retail.yaml:20:3: warning: params.spare: parameter \"spare\" is never used"}},
	}
	for _, file := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		for _, tt := range tests {
			t.Run(file+"/"+tt.name, func(t *testing.T) {
				work := fixtureRepo(t, tt.from, tt.to)
				summary := filepath.Join(t.TempDir(), "summary.md")
				preamble := strings.Join([]string{
					"set -eo pipefail",
					`gh() { echo "gh $*" >> posted.log; }`,
					`curl() { echo "curl $*" >> posted.log; }`,
				}, "\n")
				env := append(os.Environ(),
					"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
					"GITHUB_STEP_SUMMARY="+summary,
					"CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main", "CI_API_V4_URL=https://gitlab.example.com/api/v4",
					"CI_PROJECT_ID=1", "CI_MERGE_REQUEST_IID=2", "TIERFLOW_GITLAB_TOKEN=not-a-real-token")
				failed := false
				var stderr strings.Builder
				for _, step := range recipeSteps(t, file) {
					step = strings.NewReplacer("${{ github.base_ref }}", "main",
						"${{ github.event.pull_request.number }}", "2").Replace(step)
					cmd := exec.Command("bash", "-c", preamble+"\n"+step)
					cmd.Dir, cmd.Env = work, env
					out, err := cmd.CombinedOutput()
					stderr.Write(out)
					if err != nil {
						failed = true
						if tt.wantPass {
							t.Fatalf("step failed: %v\n%s\n---\n%s", err, step, out)
						}
					}
				}
				if failed == tt.wantPass {
					t.Fatalf("job passed=%v, want %v\n%s", !failed, tt.wantPass, stderr.String())
				}
				preview, err := os.ReadFile(filepath.Join(work, "preview.md"))
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range tt.wantInMD {
					if !strings.Contains(string(preview), want) {
						t.Errorf("preview.md lacks %q:\n%s", want, preview)
					}
				}
				for _, bad := range tt.notInMD {
					if strings.Contains(string(preview), bad) {
						t.Errorf("preview.md has %q:\n%s", bad, preview)
					}
				}
				if tt.wantStderr != "" && !strings.Contains(stderr.String(), tt.wantStderr) {
					t.Errorf("job output lacks %q:\n%s", tt.wantStderr, stderr.String())
				}
				for _, key := range []string{"", file} {
					if want, ok := tt.wantLog[key]; ok && !strings.Contains(stderr.String(), want) {
						t.Errorf("the job's log lacks %q:\n%s", want, stderr.String())
					}
				}
				if file == "gitlab-ci.yml" {
					checkJUnitArtifact(t, filepath.Join(work, "tierflow-tests.xml"))
				}
				if file == "github-actions.yml" {
					if s, _ := os.ReadFile(summary); !strings.Contains(string(s), "rule-change preview") {
						t.Errorf("the job summary did not get the preview: %q", s)
					}
				}
				if tt.wantPass {
					posted, _ := os.ReadFile(filepath.Join(work, "posted.log"))
					if !strings.Contains(string(posted), "preview.md") {
						t.Errorf("the preview was not posted as a comment: %q", posted)
					}
				}
			})
		}
	}
}

// exportDate is the newest date in a facts CSV: the day the export was
// taken is the day after.
func exportDate(t *testing.T, csv string) time.Time {
	t.Helper()
	var newest time.Time
	for _, line := range strings.Split(csv, "\n")[1:] {
		for _, field := range strings.Split(line, ",") {
			if d, err := time.Parse("2006-01-02", field); err == nil && d.After(newest) {
				newest = d
			}
		}
	}
	if newest.IsZero() {
		t.Fatal("the facts hold no date")
	}
	return newest
}

// checkJUnitArtifact checks that the GitLab recipe left the rule tests'
// JUnit report its artifacts:reports:junit names, with the cases.
func checkJUnitArtifact(t *testing.T, path string) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the recipe wrote no JUnit report: %v", err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(src, &doc); err != nil || doc.Tests == 0 || len(doc.Suites) != 1 || doc.Suites[0].Name != "retail" {
		t.Errorf("the JUnit report: %v, %d tests, suites %+v", err, doc.Tests, doc.Suites)
	}
}
