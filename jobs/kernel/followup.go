package kernel

import (
	"context"
	"fmt"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
)

var (
	_ jobs.FollowUpLoader = (*StateReader)(nil)
	_ jobs.FollowUpLoader = (*Joined)(nil)
)

// withheldOrCancelled are the statuses of actions that reached nobody: no
// contact.
const withheldOrCancelled = `('` + jobs.ActionHeldOut + `', '` + jobs.ActionSuppressed + `', '` + jobs.ActionCancelled + `')`

// LoadFollowUps sets the follow-up history q asks for of every customer
// of batch, from the reader's snapshot, one query per part: the latest
// time each action of the rule set ended with each outcome at or before
// q.Until (State.Outcomes), and the actions queued after q.ContactsSince
// and at or before q.Until that were no contact's withholding or
// cancellation and no segment sync (State.Contacts; an action the rules
// no longer define has index -1). It implements jobs.FollowUpLoader.
func (r *StateReader) LoadFollowUps(ctx context.Context, batch []engine.Customer, q jobs.FollowUpQuery) error {
	for i := range batch {
		if q.Outcomes {
			batch[i].State.Outcomes = nil
		}
		if q.Contacts {
			batch[i].State.Contacts = nil
		}
	}
	if len(batch) == 0 {
		return nil
	}
	keys, each := byKey(batch)
	if q.Outcomes && len(r.allActNames) > 0 {
		if err := r.loadOutcomes(ctx, keys, q, each); err != nil {
			return fmt.Errorf("outcomes: %w", err)
		}
	}
	if q.Contacts {
		if err := r.loadContacts(ctx, keys, q, each); err != nil {
			return fmt.Errorf("contacts: %w", err)
		}
	}
	return nil
}

// loadOutcomes reads, per customer, action and outcome, the latest
// outcome time at or before q.Until.
func (r *StateReader) loadOutcomes(ctx context.Context, keys []string, q jobs.FollowUpQuery, each func(string, func(*engine.Customer))) error {
	inActs, acts := r.d.InKeys("action", 2, r.allActNames)
	inKeys, arg := r.d.InKeys("customer_key", 3, keys)
	rows, err := r.tx.QueryContext(ctx, "SELECT customer_key, action, outcome, max(outcome_at) FROM "+r.t.Actions+
		" WHERE ruleset = $1 AND "+inActs+" AND "+inKeys+" AND outcome IS NOT NULL AND outcome_at <= $4"+
		" GROUP BY customer_key, action, outcome", r.rs.Name, acts, arg, r.d.TimeArg(q.Until))
	if err != nil {
		return r.secrets.Err(err)
	}
	defer rows.Close()
	var key, action, outcome string
	var at any
	for rows.Next() {
		if err := rows.Scan(&key, &action, &outcome, &at); err != nil {
			return r.secrets.Err(err)
		}
		i, ok := r.allActs[action]
		if !ok {
			continue
		}
		o := engine.ActionOutcome{Action: i, Outcome: outcome}
		if o.At, err = r.d.Time(at); err != nil {
			return fmt.Errorf("customer %s: %w", key, err)
		}
		each(key, func(c *engine.Customer) { c.State.Outcomes = append(c.State.Outcomes, o) })
	}
	return r.secrets.Err(rows.Err())
}

// loadContacts reads the actions queued for the customers within
// (q.ContactsSince, q.Until] that count as contacts.
func (r *StateReader) loadContacts(ctx context.Context, keys []string, q jobs.FollowUpQuery, each func(string, func(*engine.Customer))) error {
	inKeys, arg := r.d.InKeys("customer_key", 2, keys)
	rows, err := r.tx.QueryContext(ctx, "SELECT customer_key, action, created_at FROM "+r.t.Actions+
		" WHERE ruleset = $1 AND "+inKeys+" AND created_at > $3 AND created_at <= $4"+
		" AND status NOT IN "+withheldOrCancelled+" AND action NOT LIKE 'sync.%'",
		r.rs.Name, arg, r.d.TimeArg(q.ContactsSince), r.d.TimeArg(q.Until))
	if err != nil {
		return r.secrets.Err(err)
	}
	defer rows.Close()
	var key, action string
	var at any
	for rows.Next() {
		if err := rows.Scan(&key, &action, &at); err != nil {
			return r.secrets.Err(err)
		}
		ct := engine.Contact{Action: -1}
		if i, ok := r.allActs[action]; ok {
			ct.Action = i
		}
		if ct.At, err = r.d.Time(at); err != nil {
			return fmt.Errorf("customer %s: %w", key, err)
		}
		each(key, func(c *engine.Customer) { c.State.Contacts = append(c.State.Contacts, ct) })
	}
	return r.secrets.Err(rows.Err())
}

// LoadFollowUps sets the follow-up history of every customer of batch
// from the snapshot's state, as StateReader.LoadFollowUps does, in the
// transaction Load uses: it may run while Stream does, from one
// goroutine at a time. It implements jobs.FollowUpLoader.
func (j *Joined) LoadFollowUps(ctx context.Context, batch []engine.Customer, q jobs.FollowUpQuery) error {
	r, err := j.stateLoader(ctx)
	if err != nil {
		return err
	}
	return r.LoadFollowUps(ctx, batch, q)
}
