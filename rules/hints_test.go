package rules_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// An unquoted # in an expression starts a YAML comment, which cuts the
// expression short: the error says so and shows it quoted.
func TestCommentCutsExpression(t *testing.T) {
	t.Parallel()
	src := `ruleset: t
facts:
  spend: number
  code: string
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend > #100
      - name: tagged
        when: code == "a" || #b
      - name: cut
        when: spend >
      - name: commented
        when: spend > 10 # a comment that cuts nothing
      - name: small
        fallback: true
`
	_, err := rules.Compile("t.yaml", []byte(src), rules.Options{})
	var list rules.ErrorList
	if !asErrorList(err, &list) {
		t.Fatalf("Compile: %v, want an ErrorList", err)
	}
	want := map[int]string{
		9:  `expression ends too early (a # starts a YAML comment: quote the expression ("spend > #100"))`,
		11: `expression ends too early (a # starts a YAML comment: quote the expression ('code == "a" || #b'))`,
		13: "expression ends too early (something is missing at the end, such as a closing bracket or a value after an operator)",
	}
	for _, d := range list {
		w, ok := want[d.Pos.Line]
		if !ok {
			t.Errorf("unexpected diagnostic: %v", d)
			continue
		}
		if got := d.Message + " (" + d.Hint + ")"; got != w {
			t.Errorf("line %d: %s\nwant %s", d.Pos.Line, got, w)
		}
		delete(want, d.Pos.Line)
	}
	for line, w := range want {
		t.Errorf("line %d: no diagnostic, want %s", line, w)
	}
}

func asErrorList(err error, list *rules.ErrorList) bool {
	l, ok := err.(rules.ErrorList)
	*list = l
	return ok
}

// A JSON number that is not whole, for an integer fact, says so in words.
func TestCoerceJSONNumberToInteger(t *testing.T) {
	t.Parallel()
	f := rules.Field{Name: "orders", Type: rules.TypeInteger}
	for in, want := range map[string]string{
		"2.5":                 `fact "orders": "2.5" is not a whole number`,
		"1e400":               `fact "orders": "1e400" is not a whole number`,
		"9223372036854775808": `fact "orders": "9223372036854775808" is too large for an integer`,
	} {
		got, err := f.Coerce(json.Number(in))
		if err == nil || err.Error() != want || strings.Contains(err.Error(), "strconv") {
			t.Errorf("Coerce(json.Number(%q)) = %v, %v; want %s", in, got, err, want)
		}
	}
	if got, err := f.Coerce(json.Number("42")); err != nil || got != 42 {
		t.Errorf("Coerce(json.Number(42)) = %v, %v", got, err)
	}
}
