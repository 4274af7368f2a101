package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// reloader re-reads rule files when they change or on SIGHUP. A file that
// fails check is rejected and logged; the last good version keeps running.
type reloader struct {
	cfg     *config
	wiring  *wiring
	sched   *jobs.Scheduler
	logger  *slog.Logger
	metrics *metrics
	mu      sync.Mutex
	sets    []configured
}

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

func (r *reloader) reloadAll(ctx context.Context) {
	for i := range r.sets {
		r.reload(ctx, i)
	}
}

// reload recompiles one configured rule file and, if it is valid and
// changed, hands it to the scheduler for the next runs.
func (r *reloader) reload(ctx context.Context, i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.sets[i]
	path := r.cfg.rulesPath(*set.cfg)
	log := r.logger.With("file", path, "ruleset", set.rs.Name)
	reject := func(msg string, attrs ...any) {
		r.metrics.reloadsFailed.WithLabelValues(path).Inc()
		log.Error(msg+"; the last good version keeps running", append(attrs, "running_hash", set.rs.Hash)...)
	}
	head, err := readRuleHead(path)
	if err != nil {
		reject("rule file rejected", "error", err.Error())
		return
	}
	if head.Ruleset != set.rs.Name {
		reject("rule file rejected: it now names rule set " + head.Ruleset + "; renaming a scheduled rule set needs a restart")
		return
	}
	rs, diags, err := compileConfigured(ctx, r.wiring.sources(head.Ruleset), r.cfg, set.cfg, head)
	if err != nil {
		reject("rule file rejected", "error", r.wiring.Redact(err.Error()))
		return
	}
	if rs == nil {
		var errs []string
		for _, d := range diags {
			if d.Severity == rules.SeverityError {
				errs = append(errs, d.String())
			}
		}
		reject("rule file rejected: it fails check", "errors", errs)
		return
	}
	if rs.Hash == set.rs.Hash {
		return
	}
	if rs.Schedule == nil {
		reject("rule file rejected: it has no schedule")
		return
	}
	if err := r.sched.Set(rs, runOptions(r.cfg, set)); err != nil {
		reject("rule file rejected", "error", err.Error())
		return
	}
	r.sets[i].rs = rs
	log.Info("rule file reloaded", "rules_hash", rs.Hash, "previous_hash", set.rs.Hash)
}
