package views

import (
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// diagKind is a kind of rule-file error or warning: the "kind" of check
// --format json and a SARIF rule (docs/output.md lists them).
type diagKind struct {
	ID   string
	Name string
	// Short describes the kind; Help says how such problems are fixed.
	Short, Help string
	Warning     bool
	match       func(field, msg string) bool
}

func hasAny(s string, parts ...string) bool {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// diagKinds are tried in order; the first that matches a diagnostic of
// its severity names it, and the last of each severity takes the rest.
var diagKinds = []diagKind{
	{ID: "yaml", Name: "YAMLStructure", Short: "The file is not YAML tierflow can read, or a field has the wrong shape.",
		Help: "Fix the YAML at the position shown: indentation, quoting, a list where a mapping is expected.",
		match: func(_, m string) bool {
			return hasAny(m, "YAML", "file is empty", "must be a mapping", "must be a list", "must be a single value")
		}},
	{ID: "cycle", Name: "SegmentationCycle", Short: "Segmentations read each other's new segment in a cycle.",
		Help:  "Make one of the segmentations read previous.NAME instead of segment.NAME.",
		match: func(_, m string) bool { return strings.Contains(m, "cycle") }},
	{ID: "cost", Name: "TooExpensive", Short: "An expression, or the rule set, is too long or could take too many steps per customer.",
		Help:  "Split the expression into simpler segments or params, or iterate over fewer items (docs/rules.md#limits).",
		match: func(_, m string) bool { return hasAny(m, "steps per customer", "the limit is", "too complex") }},
	{ID: "test-case", Name: "TestCase", Short: "A test case is malformed or names something the rule set does not have.",
		Help: "Correct the test case (docs/rules.md#tests).",
		match: func(f, m string) bool {
			return strings.HasPrefix(f, "tests") || strings.Contains(m, "test file names rule set")
		}},
	{ID: "destination", Name: "UndeclaredDestination", Short: "An action is delivered to a destination tierflow.yaml does not declare.",
		Help:  "Declare the destination under destinations: in tierflow.yaml, or correct deliver_to (docs/delivery.md).",
		match: func(f, _ string) bool { return strings.HasSuffix(f, ".deliver_to") }},
	{ID: "duplicate", Name: "Duplicate", Short: "A name, key or value is given twice.",
		Help:  "Remove or rename one of them; the message says where the first one is.",
		match: func(_, m string) bool { return hasAny(m, "defined twice", "listed twice", "already the fallback") }},
	{ID: "unknown-name", Name: "UnknownName", Short: "A name that is not declared: a fact, param, segmentation, segment, action, key or type.",
		Help: "Correct the name (the hint suggests the closest one), or declare it.",
		match: func(_, m string) bool {
			return strings.HasPrefix(m, "unknown ") || hasAny(m, " has no segment ", "is not an outcome of", "no action has channel")
		}},
	{ID: "invalid-name", Name: "InvalidName", Short: "A name that is not allowed, or is reserved.",
		Help:  "Use lower-case letters, digits and _, starting with a letter; put display text in label.",
		match: func(_, m string) bool { return hasAny(m, "is not a valid", "is a reserved name") }},
	{ID: "missing", Name: "Missing", Short: "A required field, condition or fallback segment is missing.",
		Help: "Add what the message names.",
		match: func(_, m string) bool {
			return hasAny(m, "is required", "has no condition", "has no fallback", "no facts schema")
		}},
	{ID: "segments", Name: "SegmentOrder", Short: "The segments of a segmentation are not in an order that can work.",
		Help:  "Keep exactly one fallback segment, last, without a condition.",
		match: func(_, m string) bool { return strings.Contains(m, "fallback") }},
	{ID: "expression", Name: "Expression", Short: "A condition or payload expression does not compile: syntax, types or functions.",
		Help: "Correct the expression at the caret (docs/rules.md#expressions).",
		match: func(f, _ string) bool {
			return strings.HasSuffix(f, ".when") || strings.Contains(f, ".payload.") || strings.HasPrefix(f, "churn")
		}},
	{ID: "invalid-value", Name: "InvalidValue", Short: "A value that is not of the kind the field takes, or out of its range.",
		Help:  "Write the value as the hint shows.",
		match: func(string, string) bool { return true }},

	{ID: "unused-param", Name: "UnusedParam", Warning: true, Short: "A param no rule reads.",
		Help: "Remove it, or use it as params.NAME.",
		match: func(_, m string) bool {
			return strings.HasPrefix(m, "parameter ") && strings.HasSuffix(m, "is never used")
		}},
	{ID: "unused-fact", Name: "UnusedFact", Warning: true, Short: "A declared fact no rule reads.",
		Help:  "Remove it if no rule needs it.",
		match: func(_, m string) bool { return strings.HasSuffix(m, "is never read") }},
	{ID: "unreachable-segment", Name: "UnreachableSegment", Warning: true, Short: "A segment that can never match because an earlier one takes its customers.",
		Help:  "Reorder the segments, highest threshold first.",
		match: func(_, m string) bool { return strings.Contains(m, "can never match") }},
	{ID: "repeated-action", Name: "RepeatedAction", Warning: true, Short: "An action with neither a cooldown nor a transition, queued again on every run.",
		Help:  "Add a cooldown, or fire on a transition such as entered(\"lifecycle\", \"at_risk\").",
		match: func(_, m string) bool { return strings.Contains(m, "no cooldown and no transition") }},
	{ID: "warning", Name: "Warning", Warning: true, Short: "A rule that loads but is probably a mistake.",
		Help:  "Read the message; tierflow check --strict makes warnings fail.",
		match: func(string, string) bool { return true }},
}

// kindOf is the kind of a diagnostic.
func kindOf(d rules.Diagnostic) *diagKind {
	warn := d.Severity == rules.SeverityWarning
	for i := range diagKinds {
		k := &diagKinds[i]
		if k.Warning == warn && k.match(d.Field, d.Message) {
			return k
		}
	}
	return &diagKinds[len(diagKinds)-1]
}

// kindIndex is the index of the kind in diagKinds, SARIF's ruleIndex.
func kindIndex(k *diagKind) int {
	for i := range diagKinds {
		if &diagKinds[i] == k {
			return i
		}
	}
	return -1
}
