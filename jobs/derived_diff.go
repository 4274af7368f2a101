package jobs

import (
	"fmt"
	"strconv"

	"github.com/tierflow/tierflow/rules"
)

// mergeFacts is mergeByName for the facts of a preview's two sides
// (PlanDiff): have holds the proposed rule set's facts, add the
// baseline's. A fact both sides have is read once when both define it
// alike; when the change redefines a derived fact (another window, a
// fact it ranks that is itself redefined, or a fact that turns from
// declared to derived), the union holds both definitions, the derived one
// under a name of its own, and each side's population facts rank their
// own side's version. It returns the union and where each of add's facts
// sits in it.
func mergeFacts(have, add []rules.Field) ([]rules.Field, []int, error) {
	if err := sameTransactions(have, add); err != nil {
		return nil, nil, err
	}
	differs := differingFacts(have, add)
	union := append([]rules.Field(nil), have...)
	at := map[string]int{}
	for i, f := range union {
		at[f.Name] = i
	}
	propRename, baseRename := map[string]string{}, map[string]string{}
	idx := make([]int, len(add))
	for k, f := range add {
		i, ok := at[f.Name]
		switch {
		case ok && !differs[f.Name]:
			idx[k] = i
			continue
		case ok && f.Derived == nil: // the proposal derives a fact the baseline declared
			fresh := freeName(f.Name, at)
			propRename[f.Name] = fresh
			union[i].Name, at[fresh] = fresh, i
		case ok:
			baseRename[f.Name] = freeName(f.Name, at)
			f.Name = baseRename[f.Name]
		}
		idx[k] = len(union)
		at[f.Name] = len(union)
		union = append(union, f)
	}
	for i := range union {
		renames := propRename
		if i >= len(have) {
			renames = baseRename
		}
		union[i] = renamedInputs(union[i], renames)
	}
	return union, idx, nil
}

// differingFacts names the facts both sides have whose definitions
// differ: one declared and one derived, two derivations written
// differently or of different types, or derivations that read a fact
// that differs.
func differingFacts(have, add []rules.Field) map[string]bool {
	mine := map[string]rules.Field{}
	for _, f := range have {
		mine[f.Name] = f
	}
	differs := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, b := range add {
			p, ok := mine[b.Name]
			if !ok || differs[b.Name] || !derivedDiffer(p, b, differs) {
				continue
			}
			differs[b.Name], changed = true, true
		}
	}
	return differs
}

func derivedDiffer(p, b rules.Field, differs map[string]bool) bool {
	switch {
	case p.Derived == nil && b.Derived == nil:
		return false
	case p.Derived == nil || b.Derived == nil:
		return true
	case p.Derived.Source != b.Derived.Source || p.Type != b.Type || p.Derived.Part != b.Derived.Part:
		return true
	}
	for _, in := range b.Derived.Inputs {
		if differs[in] {
			return true
		}
	}
	return false
}

// freeName is name with a suffix no fact in taken has.
func freeName(name string, taken map[string]int) string {
	for n := 1; ; n++ {
		s := "preview" + strconv.Itoa(n) + "_" + name
		if len(s) > 63 {
			s = "preview" + strconv.Itoa(n)
		}
		if _, dup := taken[s]; !dup {
			return s
		}
	}
}

// renamedInputs returns f with its derivation's inputs and group renamed.
func renamedInputs(f rules.Field, renames map[string]string) rules.Field {
	if f.Derived == nil || len(renames) == 0 {
		return f
	}
	d := *f.Derived
	d.Inputs = append([]string(nil), d.Inputs...)
	for i, in := range d.Inputs {
		if to, ok := renames[in]; ok {
			d.Inputs[i] = to
		}
	}
	if to, ok := renames[d.Group]; ok {
		d.Group = to
	}
	f.Derived = &d
	return f
}

// sameTransactions refuses a preview whose two sides read transactions
// with other columns: one run reads them once.
func sameTransactions(have, add []rules.Field) error {
	a, b := txColumnsOf(have), txColumnsOf(add)
	if a == nil || b == nil {
		return nil
	}
	if a.Key != b.Key || a.Time != b.Time || a.Amount != b.Amount || a.Quantity != b.Quantity || a.Category != b.Category {
		return fmt.Errorf("the change renames the transactions' columns (transactions: in the rule file): preview it with plan rather than plan --baseline")
	}
	return nil
}

func txColumnsOf(fs []rules.Field) *rules.Transactions {
	for _, f := range fs {
		if f.Derived != nil && f.Derived.Kind != rules.DerivedPopulation {
			return f.Derived.Transactions
		}
	}
	return nil
}
