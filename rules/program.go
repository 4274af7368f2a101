package rules

import (
	"errors"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
)

// compileProgram compiles src as expr.Compile does, and shows inspect the
// type-checked tree before it is optimized: the tree as the rule author
// wrote it (after the macro rewrites), with the type of every node. When
// inspect returns false, compileProgram returns (nil, nil) and compiles
// nothing.
//
// The steps are expr.Compile's (expr v1.17.8 expr.go); the optimizer
// folds and rewrites nodes, so checks that reason about what the author
// wrote run before it. TestCompileProgramMatchesExpr keeps the two in step.
func compileProgram(src string, opts []expr.Option, inspect func(tree ast.Node, cfg *conf.Config) bool) (*vm.Program, error) {
	cfg := conf.CreateNew()
	for _, op := range opts {
		op(cfg)
	}
	for name := range cfg.Disabled {
		delete(cfg.Builtins, name)
	}
	cfg.Check()
	tree, err := checker.ParseCheck(src, cfg)
	if err != nil {
		return nil, err
	}
	if !inspect(tree.Node, cfg) {
		return nil, nil
	}
	if cfg.Optimize {
		if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(tree.Source)
			}
			return nil, err
		}
	}
	return compiler.Compile(tree, cfg)
}
