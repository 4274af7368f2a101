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
// report the failing rule. They are built from already-compiled
// conditions, so they cannot fail to compile for a valid rule set.
type FastPath struct {
	// Segmentations[i] returns the index of the segment of
	// RuleSet.Segmentations[i] whose condition matches first (the
	// fallback's index when none does).
	Segmentations []*vm.Program
	// Actions returns a bit mask with bit i set when action i's condition
	// holds; nil when there are more actions than bits.
	Actions *vm.Program
}

// maxMaskedActions is how many actions fit in the mask.
const maxMaskedActions = 62

// CompileFastPath builds the fast programs of rs.
func (rs *RuleSet) CompileFastPath() (*FastPath, error) {
	l := &loader{file: rs.File}
	c := newExprCompiler(l, rs.Facts, rs.Params, rs.Segmentations)
	fp := &FastPath{}
	for _, s := range rs.Segmentations {
		var b strings.Builder
		for i, seg := range s.Segments {
			if seg.When == nil {
				continue
			}
			fmt.Fprintf(&b, "(%s) ? %d : ", seg.When.Source, i)
		}
		fmt.Fprintf(&b, "%d", s.Fallback)
		p, err := c.compileCombined(b.String())
		if err != nil {
			return nil, fmt.Errorf("segmentation %s: %w", s.Name, err)
		}
		fp.Segmentations = append(fp.Segmentations, p)
	}
	if n := len(rs.Actions); n > 0 && n <= maxMaskedActions {
		parts := make([]string, n)
		for i, a := range rs.Actions {
			parts[i] = fmt.Sprintf("((%s) ? %d : 0)", a.When.Source, int64(1)<<i)
		}
		p, err := c.compileCombined(strings.Join(parts, " + "))
		if err != nil {
			return nil, fmt.Errorf("actions: %w", err)
		}
		fp.Actions = p
	}
	return fp, nil
}

// compileCombined compiles a program assembled from valid conditions,
// without the per-expression size limits (each part was checked alone).
func (c *exprCompiler) compileCombined(src string) (*vm.Program, error) {
	v := &macroVisitor{c: c, src: src}
	opts := append([]expr.Option{expr.Patch(v)}, c.options...)
	opts = append(opts, expr.MaxNodes(0))
	p, err := expr.Compile(src, opts...)
	if err == nil && len(v.errs) > 0 {
		err = fmt.Errorf("%s", v.errs[0].msg)
	}
	return p, err
}
