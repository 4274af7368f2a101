package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// badShop has two errors, one after wide characters on its line, and an
// unused param, which warnShop, without the errors, is warned of (a file
// with errors gets no warnings).
const badShop = `ruleset: shop
params:
  vip_spend: 50000
  unused_param: 3
facts:
  spend_12m: number
  channel: string
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= params.vip_spend && channel != "客户" && chanel == "online"
      - name: other
        fallback: true
actions:
  - name: call
    when: entered("tier", "vipp")
    cooldown: 30d
`

var warnShop = strings.NewReplacer("ruleset: shop", "ruleset: warn", "chanel", "channel", "vipp", "vip").Replace(badShop)

// checkProject writes badShop, warnShop and a good rule file under rules/ in a
// new directory and makes it the working directory, as CI runs check
// from the repository's root. Not for parallel tests.
func checkProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	good, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"rules/shop.yaml": badShop, "rules/warn.yaml": warnShop, "rules/retail.yaml": string(good)})
	t.Chdir(dir)
	return dir
}

// textPosition is where check's text output puts a diagnostic.
type textPosition struct {
	file      string
	line, col int
}

// textPositions reads file:line:col from check's text output, in order.
func textPositions(t *testing.T, stderr string) []textPosition {
	t.Helper()
	var out []textPosition
	for _, m := range regexp.MustCompile(`(?m)^(\S+\.yaml):(\d+):(\d+): `).FindAllStringSubmatch(stderr, -1) {
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		out = append(out, textPosition{m[1], line, col})
	}
	if len(out) == 0 {
		t.Fatalf("no positions in check's text output:\n%s", stderr)
	}
	return out
}

// runeColumn is the 1-based column, in characters, of the first s on
// the line of src that holds it, and that line's number.
func runeColumn(t *testing.T, src, s string) (line, col int) {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if j := strings.Index(l, s); j >= 0 {
			return i + 1, utf8.RuneCountInString(l[:j]) + 1
		}
	}
	t.Fatalf("%q is not in the source", s)
	return 0, 0
}

// check --format json lists every error and warning with the fields the
// text shows, at the same positions, and keeps the exit status.
func TestCheckFormatJSON(t *testing.T) {
	checkProject(t)
	text := runCLI(t, nil, "check", "rules").want(t, exitFailure)
	r := runCLI(t, nil, "check", "--format", "json", "rules").want(t, exitFailure)
	var doc struct {
		FormatVersion int  `json:"format_version"`
		Failed        bool `json:"failed"`
		Errors        int  `json:"errors"`
		Warnings      int  `json:"warnings"`
		RuleSets      []struct {
			File, RuleSet string
		} `json:"rulesets"`
		Diagnostics []struct {
			Severity, Kind, File, Field, Message, Hint, Snippet string
			Line, Column                                        int
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	want := textPositions(t, text.stderr)
	if doc.FormatVersion != 1 || !doc.Failed || doc.Errors != 2 || doc.Warnings != 1 || len(doc.Diagnostics) != len(want) {
		t.Fatalf("counts: %+v, want 2 errors and 1 warning at %v", doc, want)
	}
	for i, d := range doc.Diagnostics {
		if got := (textPosition{d.File, d.Line, d.Column}); got != want[i] {
			t.Errorf("diagnostic %d at %v, the text says %v", i, got, want[i])
		}
		if d.Field == "" || d.Message == "" || d.Hint == "" || d.Kind == "" || !strings.Contains(d.Snippet, "^") {
			t.Errorf("diagnostic %d lacks a field: %+v", i, d)
		}
		if !strings.Contains(text.stderr, d.Field+": "+d.Message+" ("+d.Hint+")") {
			t.Errorf("diagnostic %d differs from the text: %+v", i, d)
		}
	}
	kinds := map[string]string{}
	for _, d := range doc.Diagnostics {
		kinds[d.Message] = d.Severity + " " + d.Kind
	}
	for msg, want := range map[string]string{`unknown name "chanel"`: "error unknown-name", `parameter "unused_param" is never used`: "warning unused-param"} {
		if kinds[msg] != want {
			t.Errorf("%s: %q, want %q (all: %v)", msg, kinds[msg], want, kinds)
		}
	}
	if len(doc.RuleSets) != 2 || doc.RuleSets[0].RuleSet != "retail" || doc.RuleSets[1].File != "rules/warn.yaml" {
		t.Errorf("rule sets that loaded: %+v", doc.RuleSets)
	}
	if !strings.Contains(r.stderr, `unknown name "chanel"`) {
		t.Errorf("the errors are not on stderr too:\n%s", r.stderr)
	}
	// A clean file: exit 0, no diagnostics; --strict makes a warning fail.
	r = runCLI(t, nil, "check", "--format", "json", "rules/retail.yaml").want(t, exitOK)
	if !strings.Contains(r.stdout, `"diagnostics": []`) || !strings.Contains(r.stdout, `"failed": false`) {
		t.Errorf("a clean file:\n%s", r.stdout)
	}
	runCLI(t, nil, "check", "--format", "json", "rules/warn.yaml").want(t, exitOK)
	r = runCLI(t, nil, "check", "--strict", "--format", "json", "rules/warn.yaml").want(t, exitFailure)
	if !strings.Contains(r.stdout, `"failed": true`) {
		t.Errorf("--strict with a warning:\n%s", r.stdout)
	}
}

// check --format github writes one workflow command per diagnostic, on
// the line and column of the error, with the path relative to the
// working directory; the log keeps the summary.
func TestCheckFormatGitHub(t *testing.T) {
	checkProject(t)
	r := runCLI(t, nil, "check", "--format", "github", "rules").want(t, exitFailure)
	line, col := runeColumn(t, badShop, "chanel")
	want := "::error file=rules/shop.yaml,line=" + strconv.Itoa(line) + ",col=" + strconv.Itoa(col) +
		`,title=segmentations.tier.segments.vip.when::unknown name "chanel" (did you mean "channel"?)`
	if !strings.Contains(r.stdout, want+"\n") {
		t.Errorf("no annotation %q:\n%s", want, r.stdout)
	}
	cmds := regexp.MustCompile(`(?m)^::(error|warning) file=rules/\w+\.yaml,line=\d+,col=\d+,title=[^:,]+::.+$`).FindAllString(r.stdout, -1)
	if len(cmds) != 3 || !strings.HasPrefix(cmds[2], "::warning file=rules/warn.yaml,line=4,col=3,title=params.unused_param::") {
		t.Errorf("want 2 errors and the warning on line 4, got %q:\n%s", cmds, r.stdout)
	}
	if !strings.Contains(r.stdout, "2 rule set(s) ok, 2 errors, 1 warning") || r.stderr != "" {
		t.Errorf("summary or stderr:\n%s\n---\n%s", r.stdout, r.stderr)
	}
	runCLI(t, nil, "check", "--format", "github", "rules/retail.yaml").want(t, exitOK)
}

// An unknown format is refused with the formats the command has, before
// anything is read; check --db has only text.
func TestCheckAndTestFormatsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--format", "junit", retailRules}, `check: --format "junit": use text, json, sarif or github`},
		{[]string{"check", "--format", "markdown", retailRules}, `use text, json, sarif or github`},
		{[]string{"check", "--data", "--format", "sarif"}, `use text, json, markdown or csv`},
		{[]string{"check", "--db", "--format", "json"}, "check --db prints text"},
		{[]string{"test", "--format", "sarif", retailRules}, `test: --format "sarif": use text, json or junit`},
		{[]string{"test", "--format", "github", filepath.Join(t.TempDir(), "none")}, `use text, json or junit`},
	} {
		r := runCLI(t, nil, tt.args...).want(t, exitFailure)
		if !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("tierflow %v: want %q on stderr, got\n%s", tt.args, tt.want, r)
		}
	}
}
