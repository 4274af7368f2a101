package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// reloader re-reads rule files when they change or on SIGHUP. A file that
// fails check is rejected and logged; the last good version keeps running.
// Every reload logs what it loaded or why it rejected the file.
type reloader struct {
	cfg     *config
	wiring  *wiring
	sched   *jobs.Scheduler
	logger  *slog.Logger
	metrics *metrics
	mu      sync.Mutex
	sets    []configured
	// rejected holds the rule sets (by index in sets) whose file was
	// rejected at its last reload, so that loading it again is logged.
	rejected map[int]bool
}

// reloadOutcome is what one reload did.
type reloadOutcome int

const (
	reloadUnchanged reloadOutcome = iota // the file compiles to the rules running
	reloadChanged                        // the new rules run from the next slot
	reloadRejected                       // the last good version keeps running
)

// watch follows the directories of the rule files (editors often replace
// a file rather than write it) and reloads a rule set shortly after its
// file, or its test file, changes.
func (r *reloader) watch(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		r.logger.Error("cannot watch rule files; reload with SIGHUP", "error", err.Error())
		return
	}
	defer w.Close()
	dirs := map[string]bool{}
	for _, set := range r.sets {
		dirs[filepath.Dir(r.cfg.rulesPath(*set.cfg))] = true
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			r.logger.Error("cannot watch rule directory; reload with SIGHUP", "dir", d, "error", err.Error())
		}
	}
	pending := map[int]bool{}
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			for i, set := range r.sets {
				p := filepath.Clean(r.cfg.rulesPath(*set.cfg))
				if filepath.Clean(ev.Name) == p || filepath.Clean(ev.Name) == rules.TestFileFor(p) {
					pending[i] = true
					timer = time.After(300 * time.Millisecond) // let editors finish writing
				}
			}
		case err, ok := <-w.Errors:
			if ok {
				r.logger.Error("rule file watcher", "error", err.Error())
			}
		case <-timer:
			for i := range pending {
				r.reload(ctx, i)
			}
			pending = map[int]bool{}
		}
	}
}

// onSIGHUP reloads every rule file and logs the outcome.
func (r *reloader) onSIGHUP(ctx context.Context) {
	r.logger.Info("SIGHUP: reloading rule files")
	changed, unchanged, rejected := []string{}, []string{}, []string{}
	for i, out := range r.reloadAll(ctx) {
		name := r.ruleSetName(i)
		switch out {
		case reloadChanged:
			changed = append(changed, name)
		case reloadUnchanged:
			unchanged = append(unchanged, name)
		default:
			rejected = append(rejected, name)
		}
	}
	log := r.logger.Info
	if len(rejected) > 0 {
		log = r.logger.Warn
	}
	log("SIGHUP: rule files reloaded", "changed", changed, "unchanged", unchanged, "rejected", rejected)
}

func (r *reloader) ruleSetName(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sets[i].rs.Name
}

// reloadAll reloads every rule file, returning each one's outcome.
func (r *reloader) reloadAll(ctx context.Context) []reloadOutcome {
	out := make([]reloadOutcome, len(r.sets))
	for i := range r.sets {
		out[i] = r.reload(ctx, i)
	}
	return out
}

// reload recompiles one configured rule file and, if it is valid and
// changed, hands it to the scheduler for the next runs. It logs the
// outcome: the rules loaded, with their hash and whether they changed,
// or the file rejected, with its first error and where it is.
func (r *reloader) reload(ctx context.Context, i int) reloadOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.sets[i]
	path := r.cfg.rulesPath(*set.cfg)
	log := r.logger.With("ruleset", set.rs.Name, "file", path)
	rs, rejection := r.compile(ctx, set, path)
	if rejection == nil && rs.Hash != set.rs.Hash {
		if err := r.sched.Set(rs, runOptions(r.cfg, set)); err != nil {
			rejection = &rejected{reason: "the scheduler refuses it", errs: []string{err.Error()}, pos: path}
		}
	}
	if rejection != nil {
		r.metrics.reloadsFailed.WithLabelValues(path).Inc()
		r.markRejected(i, true)
		log.Error("rule file rejected; the last good version keeps running", rejection.attrs(set.rs.Hash)...)
		return reloadRejected
	}
	again := r.markRejected(i, false)
	changed := rs.Hash != set.rs.Hash
	attrs := []any{"rules_hash", rs.Hash, "changed", changed, "after_rejection", again}
	switch {
	case changed:
		r.sets[i].rs = rs
		log.Info("rule file reloaded", append(attrs, "previous_hash", set.rs.Hash)...)
		return reloadChanged
	case again:
		log.Info("rule file loaded again after its rejection", attrs...)
	default:
		log.Info("rule file unchanged", attrs...)
	}
	return reloadUnchanged
}

// markRejected records whether rule set i's file was rejected at its
// last reload, returning whether it was before.
func (r *reloader) markRejected(i int, now bool) (before bool) {
	if r.rejected == nil {
		r.rejected = map[int]bool{}
	}
	before = r.rejected[i]
	r.rejected[i] = now
	return before
}

// compile reads and checks the rule file of set at path: the rule set
// it now holds, or why it is rejected.
func (r *reloader) compile(ctx context.Context, set configured, path string) (*rules.RuleSet, *rejected) {
	head, err := readRuleHead(path)
	if err != nil {
		return nil, rejectedErr("it cannot be read", path, err)
	}
	if head.Ruleset != set.rs.Name {
		return nil, &rejected{reason: "it now names rule set " + head.Ruleset + "; renaming a scheduled rule set needs a restart", pos: path}
	}
	rs, diags, err := compileConfigured(ctx, r.wiring.sources(head.Ruleset), r.cfg, set.cfg, head)
	if err != nil {
		return nil, rejectedErr("its facts schema cannot be read", path, errors.New(r.wiring.Redact(err.Error())))
	}
	if rs == nil {
		rej := &rejected{reason: "it fails check", pos: path}
		for _, d := range onlyErrors(diags) {
			if len(rej.errs) == 0 {
				rej.pos = d.Pos.String()
			}
			rej.errs = append(rej.errs, d.String())
		}
		return nil, rej
	}
	if rs.Schedule == nil {
		return nil, &rejected{reason: "it has no schedule", pos: path}
	}
	return rs, nil
}

// rejected is why a reload rejected a rule file: the reason in words,
// the errors found (each with its position and snippet) and where the
// first one is.
type rejected struct {
	reason string
	errs   []string
	pos    string
}

// rejectedErr is a rejection for err, positioned when err is a rule
// error.
func rejectedErr(reason, path string, err error) *rejected {
	rej := &rejected{reason: reason, errs: []string{err.Error()}, pos: path}
	var d rules.Diagnostic
	if errors.As(err, &d) {
		rej.pos = d.Pos.String()
	}
	return rej
}

// attrs are the log attributes of the rejection: the first error alone
// (one line, with its position) and all of them, and the hash of the
// rules that keep running.
func (j *rejected) attrs(runningHash string) []any {
	attrs := []any{"reason", j.reason, "position", j.pos}
	if len(j.errs) > 0 {
		first, _, _ := strings.Cut(j.errs[0], "\n")
		attrs = append(attrs, "error", first, "errors", j.errs)
	}
	return append(attrs, "running_hash", runningHash)
}
