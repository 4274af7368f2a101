package main

import (
	"maps"
	"os"
	"slices"

	"github.com/tierflow/tierflow/rules"
)

// candidate is one completion: a value and what it is, for the shells
// that show descriptions (zsh, fish).
type candidate struct {
	value, desc string
}

// projectNames are the names of a project that commands take as flag
// values and arguments, as shell completion offers them.
type projectNames struct {
	ruleSets, segmentations, actions, outcomes, destinations []candidate
}

// loadNames reads the names of the rule sets in the rule files under
// paths, when they hold any, else of those the config at configPath
// (tierflow.yaml by default) lists, the way the commands find them: the
// rule files are compiled as every command compiles them. With ruleSet,
// only that rule set's segmentations, actions and outcomes. Nothing is
// reported: a config or rule file that does not load gives no names (a
// configured rule file that does not compile still gives its ruleset:
// name), and no database is opened.
func loadNames(configPath string, paths []string, ruleSet string) projectNames {
	var n projectNames
	var existing []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			existing = append(existing, p)
		}
	}
	if len(existing) > 0 {
		for _, rs := range rules.LoadFiles(existing, ruleOptions()).RuleSets {
			n.add(rs, ruleSet)
		}
		if len(n.ruleSets) > 0 {
			return n
		}
	}
	cfg, err := loadConfig(configPath)
	if err != nil {
		return n
	}
	for _, r := range cfg.RuleSets {
		path := cfg.rulesPath(r)
		if loaded := rules.LoadFiles([]string{path}, ruleOptions()); len(loaded.RuleSets) == 1 {
			n.add(loaded.RuleSets[0], ruleSet)
		} else if h, err := readRuleHead(path); err == nil {
			n.ruleSets = addName(n.ruleSets, candidate{value: h.Ruleset})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Destinations)) {
		n.destinations = append(n.destinations, candidate{value: name, desc: "destination"})
	}
	return n
}

// add adds a compiled rule set's names; its segmentations, actions and
// outcomes only when only is "" or its name.
func (n *projectNames) add(rs *rules.RuleSet, only string) {
	n.ruleSets = addName(n.ruleSets, candidate{value: rs.Name, desc: rs.Label})
	if only != "" && rs.Name != only {
		return
	}
	in := func(label string) string {
		if label == "" {
			return "in " + rs.Name
		}
		return label + " (" + rs.Name + ")"
	}
	for _, s := range rs.Segmentations {
		n.segmentations = addName(n.segmentations, candidate{value: s.Name, desc: in(s.Label)})
	}
	for _, a := range rs.Actions {
		n.actions = addName(n.actions, candidate{value: a.Name, desc: in(a.Label)})
		for _, o := range a.Outcomes {
			n.outcomes = addName(n.outcomes, candidate{value: o, desc: "an outcome of " + a.Name})
		}
	}
}

// addName appends c unless a candidate of its value is there already.
func addName(list []candidate, c candidate) []candidate {
	for _, have := range list {
		if have.value == c.value {
			return list
		}
	}
	return append(list, c)
}
