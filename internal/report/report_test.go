package report_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/report"
	"github.com/tierflow/tierflow/jobs"
)

// scriptRE finds the page's script elements and their text.
var scriptRE = regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`)

func render(t *testing.T, reps ...*jobs.ClassReport) string {
	t.Helper()
	var buf bytes.Buffer
	if err := report.Write(&buf, report.Page{Reports: reps, Generated: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), Version: "test"}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// pageData decodes the page's data element.
func pageData(t *testing.T, page string) (data struct {
	FormatVersion int                 `json:"format_version"`
	Tierflow      string              `json:"tierflow"`
	Reports       []*jobs.ClassReport `json:"reports"`
}) {
	t.Helper()
	for _, m := range scriptRE.FindAllStringSubmatch(page, -1) {
		if strings.Contains(m[1], `id="`+report.DataElementID+`"`) {
			if err := json.Unmarshal([]byte(m[2]), &data); err != nil {
				t.Fatalf("the data element is not JSON: %v", err)
			}
			return data
		}
	}
	t.Fatal("no data element")
	return data
}

// TestPageIsSelfContained: the page loads nothing: no external script,
// style sheet, font or image, and it carries its data and the chart
// library itself.
func TestPageIsSelfContained(t *testing.T) {
	rep := synthReport(t, 20, 5000)
	page := render(t, rep)
	for _, bad := range []string{"<link", " src=", "@import", "url(", "@font-face", "http://", "https://"} {
		if i := strings.Index(page[:strings.Index(page, `<script type="application/json"`)], bad); i >= 0 {
			t.Errorf("the page's markup has %q: %s", bad, page[max(0, i-60):i+60])
		}
	}
	scripts := scriptRE.FindAllStringSubmatch(page, -1)
	if len(scripts) != 3 {
		t.Fatalf("%d script elements, want 3 (data, ECharts, the report's)", len(scripts))
	}
	if !strings.Contains(scripts[1][2], `version="`+report.EChartsVersion+`"`) {
		t.Errorf("the second script is not ECharts %s", report.EChartsVersion)
	}
	data := pageData(t, page)
	if data.FormatVersion != report.FormatVersion || data.Tierflow != "test" || len(data.Reports) != 1 {
		t.Fatalf("data: format %d, tierflow %q, %d reports", data.FormatVersion, data.Tierflow, len(data.Reports))
	}
	want, _ := json.Marshal(rep)
	got, _ := json.Marshal(data.Reports[0])
	if !bytes.Equal(got, want) {
		t.Errorf("the page's data is not the report:\n%s\nvs\n%s", got[:200], want[:200])
	}
}

// TestPageEscapesLabels: labels are data, never markup or script, in any
// language.
func TestPageEscapesLabels(t *testing.T) {
	rep := synthReport(t, 3, 1000)
	hostile := `</script><script>alert("x")</script><!-- & 客户价值等级 ` + "\u2028"
	rep.Label = hostile
	rep.Segmentations[0].Label = hostile
	page := render(t, rep)
	if n := strings.Count(page, "</script>"); n != 3 {
		t.Fatalf("%d </script> in the page, want 3: a label ended an element", n)
	}
	if strings.Contains(page, `alert("x")`) && !strings.Contains(page, `&lt;/script&gt;&lt;script&gt;alert(&#34;x&#34;)`) {
		t.Fatal("a label reached the page unescaped")
	}
	data := pageData(t, page)
	if data.Reports[0].Label != hostile || data.Reports[0].Segmentations[0].Label != hostile {
		t.Fatalf("labels did not survive: %q", data.Reports[0].Label)
	}
}

// TestScriptSources: the Content-Security-Policy hashes are those of the
// page's scripts, so that a browser runs them under serve's policy.
func TestScriptSources(t *testing.T) {
	page := render(t, synthReport(t, 3, 1000))
	var want []string
	for _, m := range scriptRE.FindAllStringSubmatch(page, -1) {
		if strings.Contains(m[1], "application/json") {
			continue
		}
		sum := sha256.Sum256([]byte(m[2]))
		want = append(want, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	if got := report.ScriptSources(); got != strings.Join(want, " ") {
		t.Fatalf("ScriptSources() = %s, want %s", got, strings.Join(want, " "))
	}
}

func TestIndex(t *testing.T) {
	var buf bytes.Buffer
	err := report.WriteIndex(&buf, []report.IndexEntry{
		{Name: "retail", Label: "零售客户分群", Href: "/report?ruleset=retail"},
		{Name: "b2b<x>", Href: "/report?ruleset=b2b%3Cx%3E"},
	})
	if err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{`<a href="/report?ruleset=retail">零售客户分群 (retail)</a>`, `b2b&lt;x&gt;`} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %s:\n%s", want, page)
		}
	}
}
