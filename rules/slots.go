package rules

import (
	"sort"
	"strconv"

	"github.com/expr-lang/expr/conf"
)

// Slots is the layout of a rule set's slot environment: the []any that
// slot programs (SlotPrograms) read their variables from by index, where
// the programs in Expr.Program read them from a map[string]any by name.
// Slot i holds the variable Name(i): the as-of time and date, the absent
// flag, every fact, and each segmentation's state variables (Vars), in
// that order; after them come the typed helper functions the programs
// call (see typedCalls), the wake-up time helpers and recorder (see
// wake.go), then the programs' own let variables.
//
// A Slots is immutable once Compile returns and safe for concurrent use;
// each goroutine evaluating expressions takes its own environment from
// New.
type Slots struct {
	names []string
	index map[string]int
	// funcs are the helpers slot programs call through a slot, in slot
	// order from len(names).
	funcs []slotFunc
	// size is how many slots an environment has: the named ones, the
	// helpers, and the most let variables any program declares.
	size int
	// wake lays out the wake-up time helpers, after the typed helpers
	// (see wake.go).
	wake wakeTable
}

// slotFunc is one helper called with a fixed number of arguments.
type slotFunc struct {
	name  string
	arity int
	fn    func(args ...any) (any, error)
	// used is true when some program calls it.
	used bool
}

// EnvNames lists the variables of the expression environment of a rule
// set with schema and segs, in slot order: the names Expr.Program reads
// from its map, and Slots lays out.
func EnvNames(schema *Schema, segs []*Segmentation) []string {
	names := []string{AsOfVar, AsOfDateVar, AbsentVar}
	if schema != nil {
		for _, f := range schema.Fields {
			names = append(names, f.Name)
		}
	}
	for _, s := range segs {
		v := VarsFor(s.Name)
		names = append(names, v.Segment, v.Previous, v.Rank, v.PreviousRank,
			v.DaysIn, v.DaysInPrevious, v.Overdue, v.DaysSinceCovered)
	}
	return names
}

// NewSlots lays out the environment of rs's expressions, with no helper
// slots: the layout an engine uses for a rule set whose fast path has no
// slot programs, to keep its variables by index all the same.
func NewSlots(rs *RuleSet) *Slots {
	return newSlots(EnvNames(rs.Facts, rs.Segmentations), nil)
}

// newSlots lays out names, then one slot per helper of cfg and number of
// arguments it can be called with in a slot (1 or 2).
func newSlots(names []string, cfg *conf.Config) *Slots {
	s := &Slots{names: names, index: make(map[string]int, len(names))}
	for i, n := range names {
		s.index[n] = i
	}
	if cfg != nil {
		fns := make([]string, 0, len(cfg.Functions))
		for name, f := range cfg.Functions {
			if f.Func != nil && f.Safe == nil && f.Fast == nil {
				fns = append(fns, name)
			}
		}
		sort.Strings(fns)
		for _, name := range fns {
			for arity := 1; arity <= 2; arity++ {
				s.index[funcSlotName(name, arity)] = len(names) + len(s.funcs)
				s.funcs = append(s.funcs, slotFunc{name: name, arity: arity, fn: cfg.Functions[name].Func})
			}
		}
	}
	s.initWake()
	s.size = s.base()
	return s
}

// funcSlotName is the variable a slot program loads helper name from,
// when it calls it with arity arguments. It contains a slash, which no
// fact, variable or function name can.
func funcSlotName(name string, arity int) string {
	return "call/" + name + "/" + strconv.Itoa(arity)
}

// base is the first slot of the let variables.
func (s *Slots) base() int { return len(s.names) + len(s.funcs) + wakeSlots + maxDirectAtoms }

// Len is the number of named slots: variables 0 to Len()-1 have a Name.
func (s *Slots) Len() int { return len(s.names) }

// Name returns the variable slot i holds.
func (s *Slots) Name(i int) string { return s.names[i] }

// Index returns the slot of the variable called name, or -1.
func (s *Slots) Index(name string) int {
	if i, ok := s.index[name]; ok && i < len(s.names) {
		return i
	}
	return -1
}

// New returns a fresh environment for one goroutine: every variable nil,
// the helpers in their slots, with its own WakeRecorder. Its helpers
// reuse an argument buffer, so the environment must not be shared.
func (s *Slots) New() []any {
	env := make([]any, s.size)
	for i, f := range s.funcs {
		if !f.used {
			continue
		}
		if f.arity == 1 {
			env[len(s.names)+i] = typed1(f.fn)
		} else {
			env[len(s.names)+i] = typed2(f.fn)
		}
	}
	s.bindWake(env)
	return env
}

// typed1 and typed2 make a helper callable by expr's OpCallTyped, which
// pops the arguments off the stack instead of copying them into a fresh
// buffer as OpCall1 and OpCall2 do on every run. They call the very
// function expr would, with the same arguments, and fail with the same
// error: expr's VM panics with the error a function returns, and reports
// a panic the same way. The buffer is reused: expr never lets a function
// keep its arguments (it reuses its own buffer too), and calls do not
// nest, since arguments are evaluated before the call.
func typed1(fn func(...any) (any, error)) func(any) any {
	var buf [1]any
	return func(a any) any {
		buf[0] = a
		out, err := fn(buf[:]...)
		buf[0] = nil
		if err != nil {
			panic(err)
		}
		return out
	}
}

func typed2(fn func(...any) (any, error)) func(any, any) any {
	var buf [2]any
	return func(a, b any) any {
		buf[0], buf[1] = a, b
		out, err := fn(buf[:]...)
		buf[0], buf[1] = nil, nil
		if err != nil {
			panic(err)
		}
		return out
	}
}
