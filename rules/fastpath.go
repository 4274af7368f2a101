package rules

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// FastPath holds programs that decide a whole segmentation, or every
// action's condition, in one VM run instead of one run per rule. They
// have the same first-match semantics as evaluating the rules one by one;
// when a fast program fails, the engine evaluates rule by rule to find and
// report the failing rule. Compile builds them once, from the rule set's
// already-compiled conditions, and keeps them in RuleSet.Fast.
type FastPath struct {
	// Segmentations[i] returns the index of the segment of
	// RuleSet.Segmentations[i] whose condition matches first (the
	// fallback's index when none does).
	Segmentations []*vm.Program
	// Actions returns a bit mask with bit i set when action i's condition
	// holds; nil when there are no actions or more actions than bits.
	Actions *vm.Program
}

// maxMaskedActions is how many actions fit in the mask.
const maxMaskedActions = 62

// fastPathHint goes with a failure to build the fast path: the rule file
// is valid (every condition compiled alone), so the failure is tierflow's.
const fastPathHint = "the rule file is valid; this is a bug in tierflow: please report it with the rule file attached"

// fastPath builds the fast programs of rs, whose conditions c compiled
// without errors. Each program that does not compile is reported as an
// error at its segmentation, or at the start of the actions list, and
// fastPath then returns nil.
func (l *loader) fastPath(c *exprCompiler, rs *RuleSet) *FastPath {
	fp := &FastPath{}
	ok := true
	for _, s := range rs.Segmentations {
		p, err := c.compileCombined(segmentationSource(s))
		if err != nil {
			l.report(SeverityError, s.Pos, "segmentations."+s.Name, fastPathHint,
				"internal error: cannot combine the segmentation's conditions into one program: %s", firstLine(err))
			ok = false
		}
		fp.Segmentations = append(fp.Segmentations, p)
	}
	if n := len(rs.Actions); n > 0 && n <= maxMaskedActions {
		p, err := c.compileCombined(actionsSource(rs.Actions))
		if err != nil {
			l.report(SeverityError, rs.Actions[0].Pos, "actions", fastPathHint,
				"internal error: cannot combine the actions' conditions into one program: %s", firstLine(err))
			ok = false
		}
		fp.Actions = p
	}
	if !ok {
		return nil
	}
	return fp
}

// segmentationSource is one expression that returns the index of the
// first segment of s whose condition holds, or the fallback's. Each
// condition is closed on a line of its own, so that a trailing // comment
// in it does not swallow the rest.
func segmentationSource(s *Segmentation) string {
	var b strings.Builder
	for i, seg := range s.Segments {
		if seg.When == nil {
			continue
		}
		fmt.Fprintf(&b, "(%s\n) ? %d : ", seg.When.Source, i)
	}
	fmt.Fprintf(&b, "%d", s.Fallback)
	return b.String()
}

// actionsSource is one expression that returns a bit mask of the actions
// whose condition holds.
func actionsSource(acts []*Action) string {
	parts := make([]string, len(acts))
	for i, a := range acts {
		parts[i] = fmt.Sprintf("((%s\n) ? %d : 0)", a.When.Source, int64(1)<<i)
	}
	return strings.Join(parts, " + ")
}

// firstLine is err's message without expr's snippet of the combined
// program, which can be long and is no line of the rule file.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// compileCombined compiles a program assembled from valid conditions,
// without the per-expression size limits (each part was checked alone).
func (c *exprCompiler) compileCombined(src string) (*vm.Program, error) {
	v := &macroVisitor{c: c, src: src}
	opts := append([]expr.Option{expr.Patch(v), expr.Patch(c.dateVisitor())}, c.options...)
	opts = append(opts, expr.MaxNodes(0))
	p, err := expr.Compile(src, opts...)
	if err == nil && len(v.errs) > 0 {
		err = fmt.Errorf("%s", v.errs[0].msg)
	}
	return p, err
}
