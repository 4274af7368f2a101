package rules

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
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
	// Slotted holds the same programs, and one for every expression of
	// the rule set, compiled to read a slot environment instead of a map;
	// nil in a FastPath built by hand, whose programs the engine runs
	// with a map.
	Slotted *SlotPrograms
}

// SlotPrograms are a rule set's programs compiled to read their
// variables from a slot environment, a []any laid out by Slots, instead
// of a map[string]any: no variable is looked up by name when they run.
// Each computes what the program it was compiled with computes (see
// Slots.slotProgram), and fails with the same error.
//
// They run on a vm.VM whose Variables is an environment from
// Slots.New, with the variables written into it by slot (Slots.Index);
// the environment argument of Run is nil.
type SlotPrograms struct {
	Slots *Slots
	// Segmentations and Actions are FastPath's programs.
	Segmentations []*vm.Program
	Actions       *vm.Program
	// Conditions[i][k] is the condition of segment k of segmentation i
	// (nil for the fallback); ActionConditions[i] action i's, and
	// Payloads[i][j] payload field j of action i (nil for a constant).
	Conditions       [][]*vm.Program
	ActionConditions []*vm.Program
	Payloads         [][]*vm.Program
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
	sp := &SlotPrograms{Slots: c.slots}
	ok, slotted := true, true
	for _, s := range rs.Segmentations {
		p, slot, err := c.compileCombined(segmentationSource(s))
		if err != nil {
			l.report(SeverityError, s.Pos, "segmentations."+s.Name, fastPathHint,
				"internal error: cannot combine the segmentation's conditions into one program: %s", firstLine(err))
			ok = false
		}
		fp.Segmentations = append(fp.Segmentations, p)
		sp.Segmentations = append(sp.Segmentations, slot)
		slotted = slotted && slot != nil
	}
	if n := len(rs.Actions); n > 0 && n <= maxMaskedActions {
		p, slot, err := c.compileCombined(actionsSource(rs.Actions))
		if err != nil {
			l.report(SeverityError, rs.Actions[0].Pos, "actions", fastPathHint,
				"internal error: cannot combine the actions' conditions into one program: %s", firstLine(err))
			ok = false
		}
		fp.Actions, sp.Actions = p, slot
		slotted = slotted && slot != nil
	}
	if !ok {
		return nil
	}
	if slotted && c.slotExprs(rs, sp) {
		fp.Slotted = sp
	}
	return fp
}

// slotExprs fills sp with the slot program of every expression of rs,
// and reports whether each has one. Without, the engine evaluates with a
// map, as it does a rule set built by hand.
func (c *exprCompiler) slotExprs(rs *RuleSet, sp *SlotPrograms) bool {
	ok := true
	slot := func(x *Expr) *vm.Program {
		if x == nil {
			return nil
		}
		p := c.slotted[x]
		ok = ok && p != nil
		return p
	}
	for _, s := range rs.Segmentations {
		conds := make([]*vm.Program, len(s.Segments))
		for k, seg := range s.Segments {
			conds[k] = slot(seg.When)
		}
		sp.Conditions = append(sp.Conditions, conds)
	}
	for _, a := range rs.Actions {
		sp.ActionConditions = append(sp.ActionConditions, slot(a.When))
		payload := make([]*vm.Program, len(a.Payload))
		for j, p := range a.Payload {
			payload[j] = slot(p.Expr)
		}
		sp.Payloads = append(sp.Payloads, payload)
	}
	return ok
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
// without the per-expression size limits (each part was checked alone),
// and its slot program (nil when that fails).
func (c *exprCompiler) compileCombined(src string) (p, slot *vm.Program, err error) {
	v := &macroVisitor{c: c, src: src}
	opts := append([]expr.Option{expr.Patch(v), expr.Patch(c.dateVisitor())}, c.options...)
	opts = append(opts, expr.MaxNodes(0))
	var config *conf.Config
	// expr.Compile's steps (see compileProgram), keeping the config.
	p, err = compileProgram(src, opts, func(_ ast.Node, cfg *conf.Config) bool {
		config = cfg
		return true
	})
	if err == nil && len(v.errs) > 0 {
		err = fmt.Errorf("%s", v.errs[0].msg)
	}
	if err != nil {
		return nil, nil, err
	}
	slot, _ = c.slots.slotProgram(p, config)
	return p, slot, nil
}
