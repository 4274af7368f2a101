package rules

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// The types of the typed helpers (typed1, typed2), which expr calls with
// OpCallTyped.
var (
	typed1Type = reflect.TypeOf(func(any) any { return nil })
	typed2Type = reflect.TypeOf(func(any, any) any { return nil })
)

// slotProgram compiles a second program from p, which cfg compiled and
// checked: the same code, except that it reads its variables from a slot
// environment (Slots.New) instead of a map, calls helpers of one or two
// arguments through slots, and records wake-up times (wakeCalls). It
// generates code again from p's tree (checked and optimized) with those
// calls retargeted, restores the tree, then turns every load by name
// into a load by slot. It returns an error when p does something the
// slot environment cannot serve.
//
// The loads by slot are expr's OpLoadVar, which reads vm.VM.Variables:
// an evaluator sets Variables to the environment, which Run keeps as
// long as it has room for the program's let variables (it has: they are
// moved past every named and helper slot). Nothing else of the program
// changes but the wake helpers, which compute and compare as the calls
// and operators they replace do, so it computes what p computes and
// fails as p fails.
func (s *Slots) slotProgram(p *vm.Program, cfg *conf.Config) (*vm.Program, error) {
	root := p.Node()
	// Wake-up times are instrumented first, on the calls as written.
	undoWake := wakeCalls(&root, s, cfg)
	undo := typedCalls(&root, s, cfg)
	sp, err := compiler.Compile(&parser.Tree{Node: root, Source: p.Source()}, cfg)
	undo()
	undoWake()
	if err != nil {
		return nil, err
	}
	if err := s.toSlots(sp); err != nil {
		return nil, err
	}
	return sp, nil
}

// typedCalls points every call of a helper of cfg with one or two
// arguments at the helper's slot, so that expr calls it with OpCallTyped,
// and returns a function that puts the tree back as it was.
func typedCalls(root *ast.Node, s *Slots, cfg *conf.Config) (undo func()) {
	v := &callRetarget{s: s, cfg: cfg}
	ast.Walk(root, v)
	return func() {
		for i := len(v.done) - 1; i >= 0; i-- {
			v.done[i].call.Callee = v.done[i].callee
		}
	}
}

type callRetarget struct {
	s    *Slots
	cfg  *conf.Config
	done []retargeted
}

// retargeted is a call and the callee it had.
type retargeted struct {
	call   *ast.CallNode
	callee ast.Node
}

func (v *callRetarget) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || v.cfg.Functions[id.Value] == nil {
		return
	}
	n := len(call.Arguments)
	slot, ok := v.s.index[funcSlotName(id.Value, n)]
	if !ok || n < 1 || n > 2 {
		return
	}
	for _, a := range call.Arguments {
		// expr dereferences a pointer argument for a declared helper;
		// no value rules see is a pointer, but then leave the call be.
		if a.Type().Kind() == reflect.Pointer {
			return
		}
	}
	v.s.funcs[slot-len(v.s.names)].used = true
	callee := &ast.IdentifierNode{Value: funcSlotName(id.Value, n)}
	callee.SetLocation(id.Location())
	callee.SetType(typed1Type)
	if n == 2 {
		callee.SetType(typed2Type)
	}
	v.done = append(v.done, retargeted{call: call, callee: call.Callee})
	call.Callee = callee
}

// toSlots rewrites sp's loads of variables by name (OpLoadFast, for the
// map environment) into loads by slot (OpLoadVar), and moves its let
// variables past the named and helper slots.
func (s *Slots) toSlots(sp *vm.Program) error {
	base, lets := s.base(), 0
	for i, op := range sp.Bytecode {
		switch op {
		case vm.OpLoadFast:
			name, _ := sp.Constants[sp.Arguments[i]].(string)
			slot, ok := s.index[name]
			if !ok {
				return fmt.Errorf("no slot for %q", name)
			}
			sp.Bytecode[i], sp.Arguments[i] = vm.OpLoadVar, slot
		case vm.OpStore, vm.OpLoadVar:
			lets = max(lets, sp.Arguments[i]+1)
			sp.Arguments[i] += base
		case vm.OpLoadEnv, vm.OpLoadConst, vm.OpLoadField, vm.OpLoadMethod:
			return fmt.Errorf("the program reads the environment with %v", op)
		}
	}
	s.size = max(s.size, base+lets)
	return nil
}
