package main

import (
	"context"
	"io"
	"strings"
)

const completionUsage = `
Usage: tierflow completion bash|zsh|fish

Prints the shell completion script for bash, zsh or fish. With it, Tab
completes commands, actions' subcommands, each command's flags, the
values of --format, --status, --color and other flags with a fixed list,
the names of rule sets (--ruleset, and the RULESET of sizes, coverage,
effects and report), segmentations (--segmentation), actions (--action)
and outcomes (--outcome), and file and directory names where a command
takes a path. Names are read from the rule files the command line names,
else from those the config lists (--config, or ./tierflow.yaml), when
Tab is pressed; a file that does not load gives no names, and no
database is opened.

Installing it:
  bash  add to ~/.bashrc:       source <(tierflow completion bash)
        or, with the bash-completion package, where it looks:
                                tierflow completion bash > ~/.local/share/bash-completion/completions/tierflow
  zsh   with compinit loaded:   tierflow completion zsh > "${fpath[1]}/_tierflow"
        (then start a new shell), or add to ~/.zshrc after compinit: source <(tierflow completion zsh)
  fish                          tierflow completion fish > ~/.config/fish/completions/tierflow.fish

The scripts call tierflow itself (the hidden command tierflow __complete),
so they stay right as tierflow changes: install them once.

Examples:
  source <(tierflow completion bash)
  tierflow completion zsh > "${fpath[1]}/_tierflow"
  tierflow completion fish > ~/.config/fish/completions/tierflow.fish
`

// completionScripts are the scripts, by shell.
var completionScripts = map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}

func runCompletion(_ context.Context, a *app, args []string) int {
	shells, code, ok := a.parse(a.flagSet("completion", completionUsage), args)
	if !ok {
		return code
	}
	if len(shells) != 1 {
		return a.errorf("completion: name one shell: tierflow completion bash, zsh or fish (tierflow completion --help)")
	}
	script, known := completionScripts[shells[0]]
	if !known {
		return a.errorf("completion: no script for %q: the shells are bash, zsh and fish", shells[0])
	}
	if _, err := io.WriteString(a.stdout, strings.TrimLeft(script, "\n")); err != nil {
		return a.errorf("completion: %v", err)
	}
	return exitOK
}
