package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Why a run's context was cancelled when it was not shutdown: the
// replica no longer holds the slot's lease.
var (
	errLeaseLost      = errors.New("another replica took over the slot: this replica's lease on it had lapsed")
	errLeaseUnrenewed = errors.New("the slot's lease could not be renewed before it ended")
)

// RunSlot runs one slot of a rule set, with the slot's time as the as-of
// time, unless another replica holds it: it claims the slot, or takes
// over a claim whose lease lapsed, and holds the claim's lease while the
// run lasts. A run cancelled by ctx (shutdown) is recorded as cancelled
// and its slot released for another replica or the next start.
func (s *Scheduler) RunSlot(ctx context.Context, name string, slot time.Time) (Status, error) {
	status, runErr, err := s.runSlot(ctx, name, slot)
	if err != nil {
		return StatusFailed, err
	}
	return status, runErr
}

// runSlot is RunSlot, with the run's error (logged and recorded) apart
// from the slot store's.
func (s *Scheduler) runSlot(ctx context.Context, name string, slot time.Time) (status Status, runErr, err error) {
	j, e := s.job(name)
	if e == nil {
		return StatusFailed, nil, fmt.Errorf("no rule set %q is scheduled", name)
	}
	log := s.log().With("ruleset", name, "slot", slot)
	now := s.now()
	lease := Lease{Owner: s.Owner, Now: now, Until: now.Add(s.lease())}
	c, err := s.Slots.ClaimSlot(ctx, name, slot, lease)
	if err != nil {
		return StatusFailed, nil, fmt.Errorf("claim slot %s: %w", slot.Format(time.RFC3339), err)
	}
	switch {
	case c.Settled != "":
		log.Warn("the slot's run had finished but its replica stopped before recording it; its outcome is now recorded", "status", string(c.Settled))
		return c.Settled, nil, nil
	case !c.Won:
		log.Info("slot already taken by another replica; skipped")
		s.recordSkipped(ctx, j, slot)
		return StatusSkipped, nil, nil
	case c.From != "":
		log.Warn("took over a slot whose claim lapsed: its replica stopped or released it", "previous_owner", c.From)
	}
	status, runErr = s.runClaimed(ctx, j, slot, lease.Until, log)
	return status, runErr, nil
}

// recordSkipped records a skipped run of a slot another replica took.
func (s *Scheduler) recordSkipped(ctx context.Context, j job, slot time.Time) {
	if rec, ok := s.State.(RunRecorder); ok {
		info := RunInfo{RuleSet: j.rs.Name, RulesHash: j.rs.Hash, AsOf: slot, Slot: slot, Started: s.now()}
		if id, err := rec.StartRun(ctx, info, "scheduled"); err == nil {
			_ = rec.FinishRun(ctx, id, RunSummary{Status: StatusSkipped, Finished: s.now(), Error: "slot already taken by another replica"})
		}
	}
	if s.Observer != nil {
		s.Observer.RunFinished(j.rs.Name, StatusSkipped, 0, nil)
	}
}

// runClaimed runs a slot this replica has claimed until until, renewing
// the claim while the run lasts, and records the slot's outcome.
func (s *Scheduler) runClaimed(ctx context.Context, j job, slot, until time.Time, log *slog.Logger) (status Status, err error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := s.holdLease(runCtx, cancel, j.rs.Name, slot, until, log)
	defer func() {
		if r := recover(); r != nil {
			stop()
			_ = s.Slots.FinishSlot(context.WithoutCancel(ctx), j.rs.Name, slot, StatusFailed, 0)
			panic(r)
		}
	}()
	opts := j.opts
	opts.AsOf, opts.Slot = slot, slot
	if opts.Now == nil {
		opts.Now = s.now
	}
	start := s.now()
	log.Info("run starting", "rules_hash", j.rs.Hash)
	out, err := s.applyWaiting(runCtx, j, opts, log)
	stop()
	status = statusOf(err)
	took := s.now().Sub(start)
	var rep *PlanReport
	var runID int64
	if out != nil {
		rep, runID = out.Report, out.RunID
	}
	s.settle(ctx, runCtx, j.rs.Name, slot, err, &status, runID, log)
	if s.Observer != nil {
		s.Observer.RunFinished(j.rs.Name, status, took, rep)
	}
	attrs := []any{"status", string(status), "run_id", runID, "took", took.Round(time.Millisecond).String()}
	if rep != nil {
		attrs = append(attrs, "customers", rep.Customers, "changed", rep.Changed, "actions", rep.ActionsTotal, "rule_errors", rep.Errors.Customers)
	}
	switch {
	case err == nil:
		log.Info("run finished", attrs...)
	case status == StatusCancelled:
		log.Warn("run cancelled; nothing was applied", append(attrs, "reason", cancelReason(ctx, runCtx))...)
	default:
		log.Error("run did not apply", append(attrs, "error", err.Error())...)
	}
	return status, err
}

// settle records what became of a claimed slot after its run: its
// outcome when it ran; released when shutdown cancelled it or the lock
// stayed taken past the deadline (the next look records it missed);
// nothing when another replica took it over.
func (s *Scheduler) settle(ctx, runCtx context.Context, name string, slot time.Time, err error, status *Status, runID int64, log *slog.Logger) {
	bg := context.WithoutCancel(ctx)
	var serr error
	switch {
	case err == nil:
		serr = s.Slots.FinishSlot(bg, name, slot, *status, runID)
	case ctx.Err() != nil:
		*status = StatusCancelled
		serr = s.Slots.ReleaseSlot(bg, name, slot, s.Owner, s.now())
		log.Warn("shutdown cancelled the run; its slot is released for another replica or the next start", "run_id", runID)
	case runCtx.Err() != nil:
		*status = StatusCancelled
		log.Error("the run was cancelled: "+context.Cause(runCtx).Error(), "run_id", runID)
	case errors.Is(err, ErrLocked):
		// Past the deadline: release it, and the next look records it missed.
		serr = s.Slots.ReleaseSlot(bg, name, slot, s.Owner, s.now())
	default:
		serr = s.Slots.FinishSlot(bg, name, slot, *status, runID)
	}
	if serr != nil {
		log.Error("could not record the slot's outcome", "error", serr.Error())
	}
}

// cancelReason says why a run was cancelled.
func cancelReason(ctx, runCtx context.Context) string {
	if ctx.Err() != nil {
		return "shutdown"
	}
	return context.Cause(runCtx).Error()
}

// applyWaiting applies a slot's run; while another run of the rule set
// holds its lock (a run started by hand), it tries again with backoff
// until the slot is more than the starting deadline late. Each try that
// finds the lock taken is recorded as a skipped run.
func (s *Scheduler) applyWaiting(ctx context.Context, j job, opts Options, log *slog.Logger) (*Outcome, error) {
	wait := newBackoff(s.lease())
	for {
		out, err := Apply(ctx, s.State, s.Facts, j.rs, opts)
		if out != nil && out.MaintainErr != nil {
			log.Warn("applied, but the summaries reports read are behind; the next apply tries again", "error", out.MaintainErr.Error())
		}
		if !errors.Is(err, ErrLocked) || ctx.Err() != nil {
			return out, err
		}
		if s.now().Sub(opts.Slot) > s.deadline() {
			log.Error("another run of the rule set held its lock until the slot was past its starting deadline")
			return out, err
		}
		d := wait.next()
		log.Info("another run of the rule set holds its lock; the slot waits for it", "retry_in", d.String())
		if s.sleep(ctx, d) != nil {
			return out, err
		}
	}
}

// holdLease renews the claim of a slot every Lease/3 until the returned
// stop is called. When another replica took the claim over, or it could
// not be renewed before its lease ends, it cancels the run: a replica
// never runs a slot it no longer holds.
func (s *Scheduler) holdLease(ctx context.Context, cancel context.CancelCauseFunc, name string, slot, until time.Time, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.renewEvery())
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := s.now()
			ok, err := s.Slots.RenewSlot(ctx, name, slot, s.Owner, now.Add(s.lease()))
			switch {
			case err == nil && ok:
				until = now.Add(s.lease())
			case err == nil:
				cancel(errLeaseLost)
				return
			case !now.Add(s.renewEvery()).Before(until):
				log.Error("could not renew the slot's lease; cancelling the run before the lease ends", "error", err.Error())
				cancel(errLeaseUnrenewed)
				return
			case ctx.Err() == nil:
				log.Warn("could not renew the slot's lease; trying again", "error", err.Error(), "lease_until", until)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// statusOf maps an Apply error to the run status it recorded.
func statusOf(err error) Status {
	switch {
	case err == nil:
		return StatusSucceeded
	case errors.Is(err, ErrLocked):
		return StatusSkipped
	case errors.Is(err, ErrBlocked):
		return StatusBlocked
	}
	return StatusFailed
}
