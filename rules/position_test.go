package rules_test

import (
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"

	"github.com/tierflow/tierflow/rules"
)

// TestExpressionErrorPosition checks that an error inside an expression is
// reported at the line and column of the offending name in the file,
// however YAML wrote the expression. Each case's `when:` value contains
// the unknown name zz exactly once; the expected position is where zz is
// in the source.
func TestExpressionErrorPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		when string // the YAML after "when:", at segment indentation
	}{
		{"plain", `spend > 1 && zz > 2`},
		{"plain at start", `zz > 2`},
		{"plain over two lines", "spend > 1\n  && zz > 2"},
		{"double quoted", `"spend > 1 && zz > 2"`},
		{"double quoted with escapes", `"channel == \"a\\b\" && zz > 2"`},
		{"double quoted over two lines", "\"spend > 1 &&\n  zz > 2\""},
		{"single quoted with doubled quote", `'channel == ''web'' && zz > 2'`},
		{"single quoted over three lines", "'spend > 1\n  && spend < 9\n  && zz > 2'"},
		{"literal block", "|\n  spend > 1\n    && zz > 2"},
		{"literal block with comment and blank line", "| # the VIP rule\n  spend > 1\n\n  && zz > 2"},
		{"literal block keep", "|+\n  spend > 1 &&\n  zz > 2\n"},
		{"folded block", ">\n  spend > 1 &&\n  spend < 9 &&\n  zz > 2"},
		{"folded block with more-indented line", ">\n  spend > 1 &&\n    zz > 2"},
		{"wide characters before", `channel == "门店客户" && zz > 2`},
		{"flow sequence", `[zz]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "ruleset: shop\nfacts:\n  spend: number\n  channel: string\nsegmentations:\n  - name: tier\n    segments:\n      - name: gold\n        when: " +
				strings.ReplaceAll(tt.when, "\n", "\n        ") + "\n      - name: basic\n        fallback: true\n"
			list := compileErrors(t, src)
			d := onlyError(t, list)
			if tt.name == "flow sequence" {
				// Not an expression at all: the error is at the list.
				if !strings.Contains(d.Message, "must be a single value") {
					t.Fatalf("got %s", d)
				}
				return
			}
			if !strings.Contains(d.Message, `unknown name "zz"`) {
				t.Fatalf("got %s\nwant an unknown name error for zz", d)
			}
			line, col := runePos(src, "zz")
			if d.Pos.Line != line || d.Pos.Col != col {
				t.Errorf("error at %d:%d, want %d:%d (where zz is)\n%s\nsource:\n%s", d.Pos.Line, d.Pos.Col, line, col, d, src)
			}
			if !strings.Contains(d.Snippet, "zz") {
				t.Errorf("snippet does not show the line with zz:\n%s", d.Snippet)
			}
		})
	}
}

// TestPayloadErrorPosition checks that errors in "=expr" payload values
// are shifted past the "=", quoted or not.
func TestPayloadErrorPosition(t *testing.T) {
	t.Parallel()
	for _, value := range []string{`=zz`, `=spend + zz`, `"=spend + zz"`, `'= spend * 2 + zz'`, `"=\"客户\" + zz"`} {
		t.Run(value, func(t *testing.T) {
			t.Parallel()
			src := "ruleset: shop\nfacts:\n  spend: number\nsegmentations:\n  - name: tier\n    segments:\n      - name: basic\n        fallback: true\nactions:\n  - name: call\n    when: spend > 1\n    cooldown: 1d\n    payload:\n      v: " + value + "\n"
			d := onlyError(t, compileErrors(t, src))
			line, col := runePos(src, "zz")
			if d.Pos.Line != line || d.Pos.Col != col {
				t.Errorf("error at %d:%d, want %d:%d\n%s", d.Pos.Line, d.Pos.Col, line, col, d)
			}
			if d.Field != "actions.call.payload.v" {
				t.Errorf("Field = %q, want actions.call.payload.v", d.Field)
			}
		})
	}
}

// TestCRLF checks positions in files with Windows line endings.
func TestCRLF(t *testing.T) {
	t.Parallel()
	src := strings.ReplaceAll("ruleset: shop\nfacts:\n  spend: number\nsegmentations:\n  - name: tier\n    segments:\n      - name: gold\n        when: |\n          spend > 1\n            && zz > 1\n      - name: basic\n        fallback: true\n", "\n", "\r\n")
	d := onlyError(t, compileErrors(t, src))
	if d.Pos.Line != 10 || d.Pos.Col != 16 {
		t.Errorf("error at %d:%d, want 10:16\n%s", d.Pos.Line, d.Pos.Col, d)
	}
	if strings.Contains(d.Snippet, "\r") {
		t.Errorf("snippet keeps the carriage return: %q", d.Snippet)
	}
}

// TestSnippetWideCharacters checks that the caret sits under the right
// character when the line holds characters two columns wide.
func TestSnippetWideCharacters(t *testing.T) {
	t.Parallel()
	src := "ruleset: shop\nlabel: 零售\nfacts:\n  spend: number\n  channel: string\nsegmentations:\n  - name: tier\n    label: 客户价值等级\n    segments:\n      - {name: vip, label: VIP 客户, when: 渠道 == \"门店\"}\n      - {name: basic, label: 小客户, fallback: true}\n"
	d := onlyError(t, compileErrors(t, src))
	if d.Pos.Line != 10 || d.Pos.Col != 42 {
		t.Fatalf("error at %d:%d, want 10:42\n%s", d.Pos.Line, d.Pos.Col, d)
	}
	lines := strings.Split(d.Snippet, "\n")
	if len(lines) != 2 {
		t.Fatalf("snippet has %d lines, want 2:\n%s", len(lines), d.Snippet)
	}
	text, caret := lines[0], lines[1]
	at := strings.Index(text, "渠道")
	if want := runewidth.StringWidth(text[:at]); strings.Index(caret, "^") != want {
		t.Errorf("caret at display column %d, want %d:\n%s", strings.Index(caret, "^"), want, d.Snippet)
	}
}

// TestSnippetLongLine checks that a snippet of a very long line shows a
// window around the caret instead of the whole line.
func TestSnippetLongLine(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("{ruleset: shop")
	for range 200 {
		b.WriteString(", facts: {}")
	}
	b.WriteString(", labl: x")
	for range 200 {
		b.WriteString(", description: y")
	}
	b.WriteString("}\n")
	src := b.String()
	list := compileErrors(t, src)
	var labl *rules.Diagnostic
	for i, d := range list {
		if len(d.Snippet) > 400 {
			t.Errorf("snippet is %d bytes long:\n%s", len(d.Snippet), d.Snippet)
		}
		if d.Field == "labl" {
			labl = &list[i]
		}
	}
	if labl == nil {
		t.Fatalf("no error for labl:\n%s", list)
	}
	lines := strings.Split(labl.Snippet, "\n")
	caret := strings.Index(lines[1], "^")
	if !strings.HasPrefix(lines[0][caret:], "labl: x") {
		t.Errorf("caret is not under labl:\n%s", labl.Snippet)
	}
	if !strings.Contains(lines[0], "| ...") || !strings.HasSuffix(lines[0], "...") {
		t.Errorf("a cut line should be marked with ... on both sides:\n%s", labl.Snippet)
	}
}

// runePos returns the 1-based line and rune column of the first marker
// in src.
func runePos(src, marker string) (int, int) {
	at := strings.Index(src, marker)
	before := src[:at]
	line := strings.Count(before, "\n") + 1
	lineStart := strings.LastIndex(before, "\n") + 1
	return line, len([]rune(before[lineStart:])) + 1
}
