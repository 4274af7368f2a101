package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// dbFlags are the flags every database command shares.
type dbFlags struct {
	config  *string
	ruleset *string
}

func addDBFlags(fs *flag.FlagSet) dbFlags {
	return dbFlags{
		config:  fs.String("config", "", "config `file` (default ./tierflow.yaml); the database URL comes from $"+defaultURLEnv+" or the config's url_file, never from a flag"),
		ruleset: fs.String("ruleset", "", "only the rule set with this `name` (default: every rule set in the config)"),
	}
}

// configured is a rule set from the config, compiled, with its settings.
type configured struct {
	rs  *rules.RuleSet
	cfg *ruleSetConfig
}

// openDB loads the config, opens the state store and every rule set's
// facts source, and compiles the configured rule sets (all, or the one
// --ruleset names). Rule files that declare no facts get their schema
// from the facts source's columns.
func (a *app) openDB(ctx context.Context, f dbFlags) (*config, *wiring, []configured, error) {
	if err := defaultConfigExists(*f.config); err != nil {
		return nil, nil, nil, err
	}
	cfg, err := loadConfig(*f.config)
	if err != nil {
		return nil, nil, nil, err
	}
	heads := make([]ruleHead, len(cfg.RuleSets))
	names := make([]string, len(cfg.RuleSets))
	for i, r := range cfg.RuleSets {
		h, err := readRuleHead(cfg.rulesPath(r))
		if err != nil {
			return nil, nil, nil, err
		}
		heads[i] = h
		if *f.ruleset == "" || h.Ruleset == *f.ruleset {
			names[i] = h.Ruleset // only the selected rule sets' sources are opened
		}
	}
	w, err := cfg.wire(ctx, a.getenv, names)
	if err != nil {
		return nil, nil, nil, err
	}
	var sets []configured
	for i := range cfg.RuleSets {
		r, h := &cfg.RuleSets[i], heads[i]
		if *f.ruleset != "" && h.Ruleset != *f.ruleset {
			continue
		}
		rs, diags, err := compileConfigured(ctx, w.sources(h.Ruleset), cfg, r, h)
		if err != nil {
			w.Close()
			return nil, nil, nil, err
		}
		if errs, _ := printDiagnostics(a.stderr, onlyErrors(diags)); errs > 0 {
			w.Close()
			if file := configErrorsIn(diags, cfg.rulesPath(*r)); file != "" {
				return nil, nil, nil, fmt.Errorf("the sources of rule set %s in %s do not fit its rule file; fix them first", h.Ruleset, file)
			}
			return nil, nil, nil, fmt.Errorf("%s has errors; fix them first (tierflow check)", cfg.rulesPath(*r))
		}
		sets = append(sets, configured{rs: rs, cfg: r})
	}
	if len(sets) == 0 {
		w.Close()
		if *f.ruleset != "" {
			return nil, nil, nil, fmt.Errorf("no rule set %q in the config's rulesets", *f.ruleset)
		}
		path := *f.config
		if path == "" {
			path = defaultConfigFile
		}
		return nil, nil, nil, fmt.Errorf("the config lists no rulesets: add `rulesets: [{rules: FILE, source: QUERY}]` to %s", path)
	}
	return cfg, w, sets, nil
}

// defaultConfigExists fails, naming the directory, when no --config is
// given and there is no tierflow.yaml: the commands that run rule sets
// have nothing to run without one.
func defaultConfigExists(path string) error {
	if path != "" {
		return nil
	}
	if _, err := os.Stat(defaultConfigFile); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		dir = "the current directory"
	}
	return fmt.Errorf("no %s in %s: run tierflow init, or pass --config FILE", defaultConfigFile, dir)
}

// compileConfigured compiles a configured rule file and checks its
// sources ss against it (see checkSources). A file that declares no
// facts gets its schema from its facts source's columns. Diagnostics
// come back for the caller to print or log; rs is nil when there are
// errors.
func compileConfigured(ctx context.Context, ss jobs.Sources, cfg *config, r *ruleSetConfig, h ruleHead) (*rules.RuleSet, []rules.Diagnostic, error) {
	opts := ruleOptions()
	if !h.hasFacts {
		schema, err := describedSchema(ctx, ss, cfg, r, h)
		if err != nil {
			return nil, nil, err
		}
		opts.Schema = schema
	}
	loaded := rules.LoadFiles([]string{cfg.rulesPath(*r)}, opts)
	if loaded.Err() != nil || len(loaded.RuleSets) == 0 {
		return nil, loaded.Diagnostics, nil
	}
	rs := loaded.RuleSets[0]
	if ss != nil {
		if diags := checkSources(r, ss, rs); len(diags) > 0 {
			return nil, append(loaded.Diagnostics, diags...), nil
		}
	}
	return rs, loaded.Diagnostics, nil
}

// describedSchema is the facts schema of a rule file that declares none:
// its only source's columns.
func describedSchema(ctx context.Context, ss jobs.Sources, cfg *config, r *ruleSetConfig, h ruleHead) (*rules.Schema, error) {
	key := h.Key
	if key == "" {
		key = "customer_id"
	}
	if len(ss) != 1 {
		return nil, fmt.Errorf("%s declares no facts, and its facts come from %d sources: declare facts: in the rule file", cfg.rulesPath(*r), len(ss))
	}
	described, ok := ss[0].Facts.(schemaSource)
	if !ok {
		return nil, fmt.Errorf("%s declares no facts, and its source (%s) cannot describe its columns: declare facts: in the rule file", cfg.rulesPath(*r), r.Sources[0].label())
	}
	return described.FactsSchema(ctx, &rules.RuleSet{Name: h.Ruleset, Key: key})
}

// ruleOptions are the options every command compiles rule files with.
func ruleOptions() rules.Options {
	return rules.Options{ValidateSchedule: jobs.ValidateSchedule}
}

// ruleHead is what a rule file says about itself before compiling.
type ruleHead struct {
	Ruleset  string     `yaml:"ruleset"`
	Key      string     `yaml:"key"`
	Facts    *yaml.Node `yaml:"facts"`
	hasFacts bool
}

// readRuleHead reads what a rule file says about itself. A file over the
// rule-file size limit is refused before it is read, the way compiling
// it would refuse it after.
func readRuleHead(path string) (ruleHead, error) {
	var h ruleHead
	src, err := readRuleFile(path)
	if err != nil {
		return h, err
	}
	if err := yaml.Unmarshal(src, &h); err != nil || h.Ruleset == "" {
		return h, fmt.Errorf("%s: not a rule file (no `ruleset:`); run tierflow check %s", path, path)
	}
	h.hasFacts = h.Facts != nil
	return h, nil
}

// readRuleFile reads a rule file, refusing one larger than
// rules.MaxFileBytes from its size, without reading it.
func readRuleFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	tooLarge := func(size int64) error {
		return rules.Diagnostic{Pos: rules.Pos{File: path}, Hint: "split the rule set into several files",
			Message: fmt.Sprintf("file is %d bytes; the limit is %d", size, rules.MaxFileBytes)}
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > rules.MaxFileBytes {
		return nil, tooLarge(fi.Size())
	}
	// The file may grow, or not be a regular file: read one byte past the
	// limit at most.
	src, err := io.ReadAll(io.LimitReader(f, rules.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(src) > rules.MaxFileBytes {
		return nil, tooLarge(int64(len(src)))
	}
	return src, nil
}

// undeclaredDestinations loads the config at configPath (when there is
// one) and returns checkDeliverTo's errors: every action whose
// deliver_to names a destination the config does not declare, positioned
// in its rule file. With files, only the errors in those files.
func undeclaredDestinations(configPath string, files []string) ([]rules.Diagnostic, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	errs := cfg.checkDeliverTo()
	if files == nil {
		return errs, nil
	}
	in := map[string]bool{}
	for _, f := range files {
		in[absPath(f)] = true
	}
	var out []rules.Diagnostic
	for _, d := range errs {
		if in[absPath(d.Pos.File)] {
			out = append(out, d)
		}
	}
	return out, nil
}

// absPath is path made absolute, or path when it cannot be.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}
