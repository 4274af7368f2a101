package memstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var _ jobs.FollowUpLoader = (*reader)(nil)

// followRow is what the follow-up history needs of one queued action.
type followRow struct {
	action    string
	status    string
	created   time.Time
	outcome   string
	outcomeAt time.Time
}

// followRowsLocked copies the queue rows of rule set name, by customer:
// a view's follow-up history, which later outcomes and runs leave as it
// was. s.mu is held.
func (s *Store) followRowsLocked(name string) map[string][]followRow {
	out := map[string][]followRow{}
	for i := range s.actions {
		q := &s.actions[i]
		if q.RuleSet != name {
			continue
		}
		row := followRow{action: q.Action, status: q.Status, created: q.CreatedAt, outcome: q.Outcome}
		if q.OutcomeAt != nil {
			row.outcomeAt = *q.OutcomeAt
		}
		out[q.Customer] = append(out[q.Customer], row)
	}
	return out
}

// LoadFollowUps sets the follow-up history q asks for of every customer
// of batch, from the view, as the SQL stores' query it: per action of the
// rule set and outcome, the latest outcome time at or before q.Until;
// and the actions queued after q.ContactsSince and at or before q.Until,
// except withheld and cancelled ones and segment syncs, with index -1
// for an action the rules no longer define. It implements
// jobs.FollowUpLoader.
func (r *reader) LoadFollowUps(ctx context.Context, batch []engine.Customer, q jobs.FollowUpQuery) error {
	if r.closed {
		return errors.New("read follow-up history: the state reader is closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range batch {
		c := &batch[i]
		if q.Outcomes {
			c.State.Outcomes = outcomes(r.rs, r.follow[c.Key], q.Until)
		}
		if q.Contacts {
			c.State.Contacts = contacts(r.rs, r.follow[c.Key], q.ContactsSince, q.Until)
		}
	}
	return nil
}

// outcomes is the latest time per action and outcome at or before until;
// nil when there is none.
func outcomes(rs *rules.RuleSet, rows []followRow, until time.Time) []engine.ActionOutcome {
	var out []engine.ActionOutcome
	at := map[engine.ActionOutcome]int{} // action and outcome, without time -> index in out
	for _, row := range rows {
		if row.outcome == "" || row.outcomeAt.After(until) {
			continue
		}
		_, i := rs.Action(row.action)
		if i < 0 {
			continue
		}
		k := engine.ActionOutcome{Action: i, Outcome: row.outcome}
		j, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, engine.ActionOutcome{Action: i, Outcome: row.outcome, At: row.outcomeAt})
			continue
		}
		if row.outcomeAt.After(out[j].At) {
			out[j].At = row.outcomeAt
		}
	}
	return out
}

// contacts lists the rows queued within (since, until] that count as
// contacts; nil when there are none.
func contacts(rs *rules.RuleSet, rows []followRow, since, until time.Time) []engine.Contact {
	var out []engine.Contact
	for _, row := range rows {
		switch {
		case !row.created.After(since) || row.created.After(until):
			continue
		case row.status == jobs.ActionHeldOut || row.status == jobs.ActionSuppressed || row.status == jobs.ActionCancelled:
			continue
		case strings.HasPrefix(row.action, "sync."):
			continue
		}
		_, i := rs.Action(row.action)
		out = append(out, engine.Contact{Action: i, At: row.created})
	}
	return out
}
