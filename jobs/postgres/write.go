package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// applyTx is an apply's write transaction on one connection. Changes are
// streamed with COPY into a temporary staging table while evaluation runs,
// then merged into the state tables with set-based statements at Commit.
type applyTx struct {
	s      *Store
	rs     *rules.RuleSet
	run    jobs.RunInfo
	lay    *kernel.Layout // the rule set's state layout, with what the apply adds
	left   bool           // a leave is staged
	states int            // staged state rows
	conn   *sql.Conn
	tx     *sql.Tx
	copy   *sql.Stmt
	done   bool
}

// lockKey derives the advisory lock of a rule set from its schema and
// name, so two stores in different schemas do not block each other.
const lockSQL = `SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2))`

// stageSQL is the staging table: a row per move ('a') and leave ('l')
// for history, per action to queue ('q'), and per customer whose state
// row changes ('s', a kernel.StateChange in the st_ columns: see
// kernel.StateUpsertSQL).
const stageSQL = `CREATE TEMP TABLE tierflow_stage (
    kind          char(1)     NOT NULL, -- 'a' move, 'l' leave, 'q' queued action, 's' state row
    name          text        NOT NULL, -- segmentation or action; '' for 's'
    customer_key  text        NOT NULL,
    segment       text,
    matched       text,
    reason        text,
    prev_segment  text,
    payload       jsonb,
    priority      integer,
    due_at        timestamptz,
    idem_key      text,
    destination   text,
    status        text,       -- NULL: pending
    note          text,
    segments      jsonb,
    st_segments      text[],
    st_since         timestamptz[],
    st_pending_since timestamptz[],
    st_reasons       text[],
    st_run_ids       bigint[],
    st_action_at     timestamptz[],
    st_wake_at       timestamptz,
    st_facts_digest  bigint
) ON COMMIT DROP`

const copySQL = `COPY tierflow_stage (kind, name, customer_key, segment, matched, reason, prev_segment, payload, priority, due_at, idem_key, destination,
    status, note, segments, st_segments, st_since, st_pending_since, st_reasons, st_run_ids, st_action_at, st_wake_at, st_facts_digest) FROM STDIN`

// BeginApply opens the write transaction and takes the rule set's
// transaction-scoped advisory lock: it is released at commit or rollback,
// or when the connection dies with the process, and cannot expire under
// a live run. It works through poolers in transaction mode.
func (s *Store) BeginApply(ctx context.Context, rs *rules.RuleSet, run jobs.RunInfo) (jobs.ApplyTx, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, s.redact(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, s.redact(err)
	}
	a := &applyTx{s: s, rs: rs, run: run, conn: conn, tx: tx}
	if !run.Shard.IsZero() {
		if err := s.beginShard(ctx, tx, run); err != nil {
			a.Rollback()
			return nil, err
		}
	} else if err := s.lockRuleSet(ctx, tx, run); err != nil {
		a.Rollback()
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, noJIT); err != nil {
		a.Rollback()
		return nil, s.redact(err)
	}
	if a.lay, err = kernel.ReadLayout(ctx, tx, s.tables(), rs.Name); err != nil {
		a.Rollback()
		return nil, s.redact(err)
	}
	a.lay.Register(rs)
	if _, err := tx.ExecContext(ctx, stageSQL); err != nil {
		a.Rollback()
		return nil, s.redact(err)
	}
	return a, nil
}

// copyIn is the COPY into the staging table, begun on the first batch
// staged: while it is open the transaction runs nothing else, and
// StageNext's statements run before it.
func (a *applyTx) copyIn(ctx context.Context) (*sql.Stmt, error) {
	if a.copy == nil {
		c, err := a.tx.PrepareContext(ctx, copySQL)
		if err != nil {
			return nil, lostDuringApply(a.s.redact(err))
		}
		a.copy = c
	}
	return a.copy, nil
}

// StageNext evaluates in the database every customer of the source
// query src on the store's database, stages what it decides for those
// who are not for the engine (kernel.NextApply) and counts them into
// plan; it returns the keys of the others, for the engine to evaluate
// and Stage. With noActions (a first run that queues none), nothing is
// queued. Where the rule set has no whole translation, it stages nothing
// and says why. It must come before the first Stage.
func (a *applyTx) StageNext(ctx context.Context, src string, noActions bool, plan *engine.Plan) (keys []string, why string, err error) {
	if a.copy != nil {
		return nil, "", errors.New("postgres: StageNext after Stage: the database's decisions are staged first")
	}
	n, why, err := kernel.NextApplyOf(ctx, a.tx, Dialect, a.s.tables(), a.rs, src, a.lay, a.run, "tierflow_stage", noActions)
	if err != nil || n == nil {
		return nil, why, lostDuringApply(a.s.redact(err))
	}
	if keys, err = a.stageNext(ctx, n); err != nil {
		return nil, "", err
	}
	if err := n.Count(ctx, a.tx, plan); err != nil {
		return nil, "", lostDuringApply(fmt.Errorf("count the database's decisions: %w", a.s.redact(err)))
	}
	return keys, "", nil
}

func (a *applyTx) stageNext(ctx context.Context, n *kernel.NextApply) ([]string, error) {
	// The facts convert as the snapshot converts them, in UTC.
	if _, err := a.tx.ExecContext(ctx, utcSQL); err != nil {
		return nil, lostDuringApply(a.s.redact(err))
	}
	for _, set := range sqlexpr.NextSettings {
		if _, err := a.tx.ExecContext(ctx, "SET LOCAL "+set); err != nil {
			return nil, lostDuringApply(a.s.redact(err))
		}
	}
	for _, st := range []struct {
		what string
		kernel.Statement
		states bool // its rows are state rows, which the tally counts
	}{{"evaluate in the database", n.Create, false}, {"stage moves", n.Moves, false}, {"stage actions", n.Queue, false}, {"stage state rows", n.States, true}} {
		if st.SQL == "" {
			continue
		}
		res, err := a.tx.ExecContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, lostDuringApply(fmt.Errorf("%s: %w", st.what, a.s.redact(err)))
		}
		if st.states {
			rows, err := res.RowsAffected()
			if err != nil {
				return nil, err
			}
			a.states += int(rows)
		}
	}
	rows, err := a.tx.QueryContext(ctx, n.Engine)
	if err != nil {
		return nil, lostDuringApply(a.s.redact(err))
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, lostDuringApply(a.s.redact(err))
		}
		keys = append(keys, k)
	}
	return keys, lostDuringApply(a.s.redact(rows.Err()))
}

// lockRuleSet takes the rule set's lock for an unsharded apply, and
// closes the runs that died.
func (s *Store) lockRuleSet(ctx context.Context, tx *sql.Tx, run jobs.RunInfo) error {
	var locked bool
	if err := tx.QueryRowContext(ctx, lockSQL, "tierflow:"+s.schema, run.RuleSet).Scan(&locked); err != nil {
		return s.redact(err)
	}
	if !locked {
		return jobs.ErrLocked
	}
	// Holding the lock proves that no earlier run of the rule set is still
	// writing: any left 'running' died (the shards of a sharded run hold
	// it shared). Close them now, outside the transaction, so that even a
	// blocked or failed apply does.
	if _, err := s.db.ExecContext(ctx, `UPDATE `+s.table("runs")+` SET status = 'abandoned', finished_at = $3
		WHERE ruleset = $1 AND status = 'running' AND id < $2`, run.RuleSet, run.ID, run.Started); err != nil {
		return fmt.Errorf("close abandoned runs: %w", s.redact(err))
	}
	return nil
}

// beginShard takes a shard's locks, checks the database's encoding,
// closes the shard's runs that died and settles the parent's initial.
func (s *Store) beginShard(ctx context.Context, tx *sql.Tx, run jobs.RunInfo) error {
	if err := s.lockShard(ctx, tx, run.RuleSet, run.Shard); err != nil {
		return err
	}
	if err := s.checkShardEncoding(ctx, tx); err != nil {
		return err
	}
	if err := s.closeAbandonedShard(ctx, run); err != nil {
		return fmt.Errorf("close abandoned runs: %w", err)
	}
	return s.settleInitial(ctx, run)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullJSON is JSON text as COPY takes it (text: bytes would be bytea), or
// NULL for none.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func (a *applyTx) Stage(ctx context.Context, batch []jobs.Evaluated) error {
	cp, err := a.copyIn(ctx)
	if err != nil {
		return err
	}
	return lostDuringApply(kernel.StateChanges(a.rs, a.run, a.lay, batch, func(c *kernel.Assignment) error {
		if c.Previous == c.Segment {
			return nil // not a move: only the state row changes
		}
		kind := "a"
		if c.Leaves() {
			kind, a.left = "l", true // segment '': history records the move to no segment
		}
		_, err := cp.ExecContext(ctx, kind, c.Segmentation, c.Customer, c.Segment, c.Matched, c.Reason, nullString(c.Previous),
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
		return a.s.redact(err)
	}, func(q *kernel.Queued) error {
		_, err := cp.ExecContext(ctx, "q", q.Action, q.Customer, nil, nil, nil, nil, string(q.Payload), q.Priority, q.Due, q.IdempotencyKey, nullString(q.Destination),
			nullString(q.Status), nullString(q.Note), nullJSON(q.Segments), nil, nil, nil, nil, nil, nil, nil, nil)
		return a.s.redact(err)
	}, func(c *kernel.StateChange) error {
		a.states++
		st := stateArrays(c, a.run.ID)
		_, err := cp.ExecContext(ctx, "s", "", c.Customer, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			st[0], st[1], st[2], st[3], st[4], st[5], nullTime(c.Mark.Wake), kernel.NullDigest(c.Mark.Digest))
		return a.s.redact(err)
	}))
}

// Commit merges the staged changes into the state tables and commits. An
// error before the commit itself leaves nothing written.
func (a *applyTx) Commit(ctx context.Context, sum jobs.RunSummary) error {
	if a.copy != nil {
		if _, err := a.copy.ExecContext(ctx); err != nil {
			return lostDuringApply(fmt.Errorf("stage: %w", a.s.redact(err)))
		}
		if err := a.copy.Close(); err != nil {
			return lostDuringApply(a.s.redact(err))
		}
	}
	detail, err := json.Marshal(sum.Detail)
	if err != nil {
		return err
	}
	sharded := !a.run.Shard.IsZero()
	if sharded {
		// The shards that committed meanwhile wrote the layout this one
		// registered too; one still writing it makes this one's insert
		// wait, then do nothing.
		stored, err := kernel.ReadLayout(ctx, a.tx, a.s.tables(), a.rs.Name)
		if err != nil {
			return lostDuringApply(a.s.redact(err))
		}
		if err := a.lay.Settle(stored); err != nil {
			return err
		}
	}
	rs, run, asOf, t := a.rs.Name, a.run.ID, a.run.AsOf, a.s.tables()
	stmts := []struct {
		what string
		sql  string
		args []any
	}{
		// The merges below filter the staging table by kind and join it by
		// customer_key, so only those two columns need statistics:
		// sampling the payloads and arrays too took 0.30 s at 125,000
		// staged rows, the two columns 0.09 s.
		{"analyze staging", `ANALYZE tierflow_stage (kind, customer_key)`, nil},
		{"write state layout", a.lay.InsertSQL(t, rs), nil},
		{"write state", kernel.StateUpsertSQL(Dialect, t, "tierflow_stage", a.lay), []any{rs}},
		{"remove emptied state", a.removeEmptied(t), []any{rs}},
		{"write history", `INSERT INTO ` + a.s.table("history") + ` (ruleset, segmentation, customer_key, from_segment, to_segment, matched, reason, as_of, run_id)
			SELECT $1, name, customer_key, prev_segment, segment, matched, reason, $2, $3 FROM tierflow_stage
			WHERE kind IN ('a', 'l') AND prev_segment IS DISTINCT FROM segment`, []any{rs, asOf, run}},
		{"queue actions", `INSERT INTO ` + a.s.table("actions") + ` (ruleset, action, customer_key, payload, priority, created_at, due_at, idempotency_key, run_id, destination,
			    status, note, segments)
			SELECT $1, name, customer_key, payload, priority, $2, due_at, idem_key, $3, destination, coalesce(status, 'pending'), note, segments
			FROM tierflow_stage WHERE kind = 'q'
			ON CONFLICT (idempotency_key) DO NOTHING`, []any{rs, asOf, run}},
		{"record run", `UPDATE ` + a.s.table("runs") + ` SET status = $2, finished_at = $3, customers = $4, changed = $5,
			actions = $6, errors = $7, detail = $8 WHERE id = $1`,
			[]any{run, string(sum.Status), sum.Finished, sum.Customers, sum.Changed, sum.Actions, sum.Errors, string(detail)}},
	}
	var tally *kernel.TallyWrite
	for _, st := range stmts {
		if st.what == "write state" {
			if sharded {
				// A shard writes its own customers' rows alongside the
				// other shards, and adds their difference to the tally
				// in its turn, below.
				tally, err = kernel.BeginTallyDelta(ctx, a.tx, Dialect, t, a.lay, rs, stagedStates)
			} else {
				tally, err = kernel.BeginTally(ctx, a.tx, Dialect, t, a.lay, rs, stagedStates, a.states, kernel.ReadEveryone(sum))
			}
			if err != nil {
				return lostDuringApply(fmt.Errorf("count the state: %w", a.s.redact(err)))
			}
		}
		if st.sql == "" {
			continue // no new layout entries, or no leave
		}
		if st.what == "record run" {
			if sharded {
				if err := a.shardTurn(ctx, tally); err != nil {
					return err
				}
			}
			if err := tally.Finish(ctx, a.tx, run); err != nil {
				return lostDuringApply(fmt.Errorf("count the state: %w", a.s.redact(err)))
			}
			st.args[2] = sum.Finish() // after the writes above
		}
		if _, err := a.tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			return lostDuringApply(fmt.Errorf("%s: %w", st.what, a.s.redact(err)))
		}
	}
	if !a.run.Shard.IsZero() {
		if err := a.s.finishParent(ctx, a.tx, a.run, sum.Finish(), sum.CheckTotals); err != nil {
			return lostDuringApply(err)
		}
	}
	if err := a.tx.Commit(); err != nil {
		err = fmt.Errorf("commit: %w", a.s.redact(err))
		if lostConnection(err) {
			return fmt.Errorf("the connection to the database was lost while the apply committed, so it may or may not have been written; rerun the apply, which writes only what is missing (tierflow runs shows whether this one succeeded): %w", err)
		}
		return err
	}
	a.done = true
	return a.conn.Close()
}

// shardTurn counts a shard's written rows for the tally, then waits for
// its turn among the shards' commits: the tally, the run record, the
// parent's completion and the commit itself happen one shard at a time,
// each seeing what the shards before it committed.
func (a *applyTx) shardTurn(ctx context.Context, tally *kernel.TallyWrite) error {
	if err := tally.Written(ctx, a.tx); err != nil {
		return lostDuringApply(fmt.Errorf("count the state: %w", a.s.redact(err)))
	}
	if err := a.s.waitCommitLock(ctx, a.tx, a.rs.Name); err != nil {
		return lostDuringApply(fmt.Errorf("wait for the other shards' commits: %w", err))
	}
	return nil
}

// stagedStates selects the keys of the customers whose state rows the
// apply writes or removes.
const stagedStates = `SELECT customer_key FROM tierflow_stage WHERE kind IN ('s', 'l')`

// removeEmptied is the statement that deletes the state rows the leaves
// emptied, "" when no leave is staged.
func (a *applyTx) removeEmptied(t kernel.Tables) string {
	if !a.left {
		return ""
	}
	return kernel.RemoveEmptiedSQL(Dialect, t, "tierflow_stage", a.lay)
}

func (a *applyTx) Rollback() error {
	if a.done {
		return nil
	}
	a.done = true
	if a.copy != nil {
		_ = a.copy.Close()
	}
	_ = a.tx.Rollback()
	return a.conn.Close()
}

// StartRun records a run as running, outside any apply transaction, so
// that a run that dies is visible afterwards.
func (s *Store) StartRun(ctx context.Context, run jobs.RunInfo, kind string) (int64, error) {
	if err := s.checkSchema(ctx); err != nil {
		return 0, err
	}
	var id int64
	if !run.Slot.IsZero() {
		kind = "scheduled"
	}
	if !run.Shard.IsZero() {
		return s.startShardRun(ctx, run, kind)
	}
	err := s.db.QueryRowContext(ctx, `INSERT INTO `+s.table("runs")+` (ruleset, rules_hash, kind, as_of, slot, status, started_at)
		VALUES ($1, $2, $3, $4, $5, 'running', $6) RETURNING id`, run.RuleSet, run.RulesHash, kind, run.AsOf, nullTime(run.Slot), run.Started).Scan(&id)
	return id, s.redact(err)
}

// FinishRun records the outcome of a run that wrote no state. A run whose
// record says it has ended keeps that record: one whose commit went
// through although its connection was lost said succeeded in the same
// transaction. Abandoned is the exception: another apply that took the
// lock guessed it, because this run had recorded its start but not yet
// asked for the lock; this run is alive, and says how it ended.
//
// A run often fails because the database went away (a restart); so that
// it is recorded as failed rather than left running (and marked
// abandoned by the next run), FinishRun tries again for a few seconds
// while the connection is what fails.
func (s *Store) FinishRun(ctx context.Context, id int64, sum jobs.RunSummary) error {
	var detail any
	if sum.Detail != nil {
		b, err := json.Marshal(sum.Detail)
		if err != nil {
			return err
		}
		detail = string(b)
	}
	finish := func() error {
		_, err := s.db.ExecContext(ctx, `UPDATE `+s.table("runs")+` SET status = $2, finished_at = $3, customers = $4,
			changed = $5, actions = $6, errors = $7, detail = $8, error = $9 WHERE id = $1 AND status IN ('running', 'abandoned')`,
			id, string(sum.Status), sum.Finished, sum.Customers, sum.Changed, sum.Actions, sum.Errors, detail, nullString(sum.Error))
		return err
	}
	err := finish()
	for _, wait := range finishRetryWaits {
		if !lostConnection(err) {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return s.redact(err)
		}
		err = finish()
	}
	return s.redact(err)
}

// finishRetryWaits are the waits before FinishRun tries again on a lost
// connection: about six seconds in all, time for a restart.
var finishRetryWaits = []time.Duration{
	100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
	800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond,
}

// lostDuringApply explains an error of an apply's transaction, before its
// commit, that is a lost connection: the transaction went with it.
func lostDuringApply(err error) error {
	if !lostConnection(err) {
		return err
	}
	return fmt.Errorf("the connection to the database was lost during the apply; nothing was written; rerun the apply: %w", err)
}

// lostConnection reports whether err means that the connection to the
// server is gone: broken (driver.ErrBadConn, which lib/pq also returns
// for a server's FATAL errors), closed, cut at the network, or ended by
// the server (connection errors, class 08, and shutdowns, 57P01-57P03).
func lostConnection(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return true
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03":
			return true
		}
		return pe.Code.Class() == "08" || pe.Fatal()
	}
	return false
}
