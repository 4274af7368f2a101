package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// Sharded runs (jobs.ShardStore). Every shard of a rule set's run holds,
// for its whole transaction:
//
//   - the rule set's advisory lock shared (an unsharded apply takes it
//     exclusively, so it runs alone);
//   - its shard's lock exclusively, on the key pair (hashtext of the
//     rule set's shard key, count<<16 | index): a shard runs once at a
//     time, and a run of a shard of another split is seen in pg_locks;
//   - at commit, the rule set's commit lock (shard key, 0), waited for:
//     the shards' merges run one after another, so that each sees the
//     others' committed rows (the state tally counts them) and the last
//     one to commit knows it is the last.

var _ jobs.ShardStore = (*Store)(nil)

// shardKey is the first key of a rule set's shard and commit locks.
func (s *Store) shardKey(ruleset string) string {
	return "tierflow-shards:" + s.schema + ":" + ruleset
}

// shardLockID is the second key of shard sh's lock; 0 is the commit lock.
func shardLockID(sh jobs.Shard) int64 { return int64(sh.Count)<<16 | int64(sh.Index) }

// JoinShard is Join of shard sh's customers only: the source's rows and
// the state's keys are narrowed in the database. It implements
// jobs.ShardJoiner.
func (s *Store) JoinShard(ctx context.Context, rs *rules.RuleSet, src jobs.FactsSource, sh jobs.Shard) (jobs.Snapshot, bool, error) {
	return kernel.JoinShard(ctx, s, src, s.tables(), rs, s.checkSchema, sh)
}

// startShardRun records the start of shard run.Shard's run under its
// parent: the open parent of the rule set at the run's as-of split the
// same way, or a new one.
func (s *Store) startShardRun(ctx context.Context, run jobs.RunInfo, kind string) (int64, error) {
	parent, err := s.openParent(ctx, run)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.db.QueryRowContext(ctx, `INSERT INTO `+s.table("runs")+` (ruleset, rules_hash, kind, as_of, slot, status, started_at, parent_id, shard, shards)
		VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9) RETURNING id`,
		run.RuleSet, run.RulesHash, kind, run.AsOf, nullTime(run.Slot), run.Started, parent, run.Shard.Index, run.Shard.Count).Scan(&id)
	return id, s.redact(err)
}

// openParent returns the id of the open parent run of run's split,
// creating it if there is none.
func (s *Store) openParent(ctx context.Context, run jobs.RunInfo) (int64, error) {
	for range 3 {
		var id int64
		err := s.db.QueryRowContext(ctx, `INSERT INTO `+s.table("runs")+` (ruleset, rules_hash, kind, as_of, slot, status, started_at, shards)
			VALUES ($1, $2, 'sharded', $3, $4, 'running', $5, $6)
			ON CONFLICT (ruleset, as_of, shards) WHERE kind = 'sharded' AND status = 'running' DO NOTHING RETURNING id`,
			run.RuleSet, run.RulesHash, run.AsOf, nullTime(run.Slot), run.Started, run.Shard.Count).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, s.redact(err)
		}
		var hash string
		err = s.db.QueryRowContext(ctx, `SELECT id, rules_hash FROM `+s.table("runs")+`
			WHERE ruleset = $1 AND as_of = $2 AND shards = $3 AND kind = 'sharded' AND status = 'running'`,
			run.RuleSet, run.AsOf, run.Shard.Count).Scan(&id, &hash)
		if errors.Is(err, sql.ErrNoRows) {
			continue // completed in between: open a new one
		}
		if err != nil {
			return 0, s.redact(err)
		}
		if hash != run.RulesHash {
			return 0, fmt.Errorf("sharded run %d of %s at %s was started with other rules (hash %s; this shard's are %s): every shard of a run must apply the same rule files; rerun this shard with them, or run an unsharded apply, which closes run %d as abandoned",
				id, run.RuleSet, run.AsOf.UTC().Format(time.RFC3339), short(hash), short(run.RulesHash), id)
		}
		return id, nil
	}
	return 0, fmt.Errorf("could not find or open the parent run of shard %s of %s: it kept completing; rerun the shard", run.Shard, run.RuleSet)
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// lockShard takes shard sh's locks in the apply's transaction tx: the
// rule set's shared, the shard's exclusive. It returns jobs.ErrLocked,
// wrapped with the reason, when an unsharded apply or the same shard
// runs, or a shard of another split of the rule set does.
func (s *Store) lockShard(ctx context.Context, tx *sql.Tx, ruleset string, sh jobs.Shard) error {
	var shared, own bool
	if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock_shared(hashtext($1), hashtext($2))`, "tierflow:"+s.schema, ruleset).Scan(&shared); err != nil {
		return s.redact(err)
	}
	if !shared {
		return fmt.Errorf("%w: an unsharded apply of it is running", jobs.ErrLocked)
	}
	key := s.shardKey(ruleset)
	if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock(hashtext($1), $2)`, key, shardLockID(sh)).Scan(&own); err != nil {
		return s.redact(err)
	}
	if !own {
		return fmt.Errorf("%w: shard %s of it is running", jobs.ErrLocked, sh)
	}
	// Another split's shard took its lock before this one looked, or
	// sees this one's: two splits that start at once both refuse.
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT objid::bigint FROM pg_locks
		WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = hashtext($1)::oid AND objsubid = 2 AND objid::bigint <> 0 AND granted AND pid <> pg_backend_pid()`, key)
	if err != nil {
		return s.redact(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return s.redact(err)
		}
		if other := (jobs.Shard{Index: int(id & 0xffff), Count: int(id >> 16)}); other.Count != sh.Count {
			return fmt.Errorf("%w: shard %s of another split of it is running, and a rule set's customers are split one way at a time", jobs.ErrLocked, other)
		}
	}
	return s.redact(rows.Err())
}

// checkShardEncoding refuses a database whose text is not UTF-8 bytes:
// md5 would hash other bytes than tierflow does, and the database would
// put customers in other shards than tierflow's hash.
func (s *Store) checkShardEncoding(ctx context.Context, tx *sql.Tx) error {
	var enc string
	if err := tx.QueryRowContext(ctx, `SHOW server_encoding`).Scan(&enc); err != nil {
		return s.redact(err)
	}
	if enc != "UTF8" && enc != "SQL_ASCII" {
		return fmt.Errorf("the database's encoding is %s: sharded runs hash keys as UTF-8 bytes, so they need a UTF8 database (docs/operations.md#sharded-runs)", enc)
	}
	return nil
}

// settleInitial records in the parent of the shard run whether the rule
// set has no state yet (a first run), as long as no shard of the parent
// has committed: each shard that begins before the first commit sees
// what it saw, and those after keep it. It runs under the shard's locks,
// so no unsharded apply writes meanwhile, and a shard's state and its
// succeeded record commit together: a shard that commits between the
// read of the state and the update leaves the update nothing to do. The
// two are separate statements because Citus refuses an update of a
// local table whose subquery reads a distributed one (customer_state)
// by another column than its distribution column.
func (s *Store) settleInitial(ctx context.Context, run jobs.RunInfo) error {
	t := s.tables()
	var initial bool
	if err := s.db.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+t.State+` WHERE ruleset = $1)
		AND NOT EXISTS (SELECT 1 FROM `+t.History+` WHERE ruleset = $1)`, run.RuleSet).Scan(&initial); err != nil {
		return s.redact(err)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE `+s.table("runs")+` p SET initial = $2
		WHERE p.id = (SELECT parent_id FROM `+s.table("runs")+` WHERE id = $1)
		  AND NOT EXISTS (SELECT 1 FROM `+s.table("runs")+` r WHERE r.parent_id = p.id AND r.status = 'succeeded')`, run.ID, initial)
	return s.redact(err)
}

// closeAbandonedShard marks the runs of shard sh left running as
// abandoned: holding the shard's lock proves they died.
func (s *Store) closeAbandonedShard(ctx context.Context, run jobs.RunInfo) error {
	_, err := s.db.ExecContext(ctx, `UPDATE `+s.table("runs")+` SET status = 'abandoned', finished_at = $3
		WHERE ruleset = $1 AND status = 'running' AND id < $2 AND parent_id IS NOT NULL AND shard = $4 AND shards = $5`,
		run.RuleSet, run.ID, run.Started, run.Shard.Index, run.Shard.Count)
	return s.redact(err)
}

// waitCommitLock waits, in tx, for the rule set's commit lock, which
// serialises the shards' merges.
func (s *Store) waitCommitLock(ctx context.Context, tx *sql.Tx, ruleset string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1), 0)`, s.shardKey(ruleset))
	return s.redact(err)
}

// finishParent completes the parent of the shard run, in the shard's
// commit transaction tx after its own record, when every shard has now
// succeeded: its totals are the latest succeeded run of each shard, and
// check (RunSummary.CheckTotals) flags it. A parent no longer running
// (abandoned by an unsharded apply) is left as it is.
func (s *Store) finishParent(ctx context.Context, tx *sql.Tx, run jobs.RunInfo, finished time.Time, check func(jobs.RunTotals) []string) error {
	t := jobs.RunTotals{}
	var status string
	var started time.Time
	var initial sql.NullBool
	err := tx.QueryRowContext(ctx, `SELECT p.id, p.status, p.started_at, p.initial FROM `+s.table("runs")+` r
		JOIN `+s.table("runs")+` p ON p.id = r.parent_id WHERE r.id = $1 FOR UPDATE OF p`, run.ID).Scan(&t.Parent, &status, &started, &initial)
	if err != nil {
		return fmt.Errorf("read the parent run: %w", s.redact(err))
	}
	if status != string(jobs.StatusRunning) {
		return nil
	}
	t.Initial = initial.Bool
	err = tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(customers), 0), coalesce(sum(changed), 0), coalesce(sum(actions), 0), coalesce(sum(errors), 0)
		FROM (SELECT DISTINCT ON (shard) customers, changed, actions, errors FROM `+s.table("runs")+`
		      WHERE parent_id = $1 AND status = 'succeeded' ORDER BY shard, id DESC) AS s`, t.Parent).Scan(
		&t.Shards, &t.Customers, &t.Changed, &t.Actions, &t.Errors)
	if err != nil {
		return fmt.Errorf("count the shards' runs: %w", s.redact(err))
	}
	if t.Shards < run.Shard.Count {
		return nil // others to come
	}
	var prev jobs.PreviousRun
	err = tx.QueryRowContext(ctx, `SELECT id, customers FROM `+s.table("runs")+`
		WHERE ruleset = $1 AND status IN ('succeeded', 'flagged') AND parent_id IS NULL AND shard IS NULL AND id <> $2 AND started_at <= $3
		ORDER BY started_at DESC, id DESC LIMIT 1`, run.RuleSet, t.Parent, started).Scan(&prev.ID, &prev.Customers)
	switch {
	case err == nil:
		t.Previous = &prev
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("read the last complete run: %w", s.redact(err))
	}
	result, reason := jobs.StatusSucceeded, ""
	if check != nil {
		if reasons := check(t); len(reasons) > 0 {
			result, reason = jobs.StatusFlagged, strings.Join(reasons, "; ")
		}
	}
	detail, err := s.mergedReport(ctx, tx, t.Parent, result, reason)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE `+s.table("runs")+` SET status = $2, finished_at = $3, customers = $4, changed = $5, actions = $6, errors = $7, error = $8, detail = $9
		WHERE id = $1`, t.Parent, string(result), finished, t.Customers, t.Changed, t.Actions, t.Errors, nullString(reason), nullString(detail))
	if err != nil {
		return fmt.Errorf("complete the parent run: %w", s.redact(err))
	}
	return nil
}

// LastSucceededShard implements jobs.ShardStore.
func (s *Store) LastSucceededShard(ctx context.Context, ruleset string, sh jobs.Shard) (jobs.PreviousRun, bool, error) {
	if err := s.checkSchema(ctx); err != nil {
		return jobs.PreviousRun{}, false, err
	}
	last, ok, err := kernel.LastSucceeded(ctx, s.db, Dialect, s.table("runs"), ruleset, sh)
	return last, ok, s.redact(err)
}

// ShardParent implements jobs.ShardStore.
func (s *Store) ShardParent(ctx context.Context, id int64) (int64, bool, error) {
	var parent int64
	var initial sql.NullBool
	err := s.db.QueryRowContext(ctx, `SELECT p.id, p.initial FROM `+s.table("runs")+` r JOIN `+s.table("runs")+` p ON p.id = r.parent_id
		WHERE r.id = $1`, id).Scan(&parent, &initial)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("run %d has no parent run: it is not a shard's", id)
	}
	return parent, initial.Bool, s.redact(err)
}

// mergedReport is the report of parent run parent as a whole
// (jobs.MergeShards), from the latest succeeded run of each of its shards,
// with the parent's status and guard reason, as JSON for its detail.
func (s *Store) mergedReport(ctx context.Context, tx *sql.Tx, parent int64, status jobs.Status, reason string) (string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT detail FROM (SELECT DISTINCT ON (shard) shard, detail FROM `+s.table("runs")+`
		WHERE parent_id = $1 AND status = 'succeeded' ORDER BY shard, id DESC) AS s WHERE detail IS NOT NULL ORDER BY shard`, parent)
	if err != nil {
		return "", fmt.Errorf("read the shards' reports: %w", s.redact(err))
	}
	defer rows.Close()
	var reps []*jobs.PlanReport
	for rows.Next() {
		var detail []byte
		if err := rows.Scan(&detail); err != nil {
			return "", fmt.Errorf("read the shards' reports: %w", s.redact(err))
		}
		rep, err := kernel.DecodeReport(detail)
		if err != nil {
			return "", fmt.Errorf("read a shard's report: %w", err)
		}
		if rep != nil {
			reps = append(reps, rep)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read the shards' reports: %w", s.redact(err))
	}
	m := jobs.MergeShards(reps)
	if m == nil {
		return "", nil
	}
	m.Status = string(status)
	if reason != "" {
		m.Guard = jobs.GuardReport{Reasons: []string{reason}}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode the sharded run's report: %w", err)
	}
	return string(b), nil
}
