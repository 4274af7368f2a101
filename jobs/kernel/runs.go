package kernel

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// LastSucceeded returns the id, customer count, source row counts, rules
// hash, as-of, change column and shard of the last run a run of shard sh
// (the zero Shard: an unsharded run) builds on, from the runs table, for
// the guard's max_shrink, the sources' max_row_change, whether the
// customers' marks hold and where the next incremental read starts; ok
// is false when there is none. Both dialects store started_at so that
// it orders as time does, and read the sources of the stored report
// (detail) with the same JSON operators.
//
// The candidates are the succeeded unsharded runs, the complete parents
// of sharded runs (succeeded or flagged: their shards all wrote), the
// runs of shard sh, and the succeeded runs of other shards whose parent
// is not complete: those wrote some customers and not others, and the
// run that follows one evaluates everyone (jobs.PreviousRun.Shard).
func LastSucceeded(ctx context.Context, q Queryer, d *Dialect, runs, ruleset string, sh jobs.Shard) (jobs.PreviousRun, bool, error) {
	var last jobs.PreviousRun
	var sources []byte
	var asOf any
	var column, through sql.NullString
	var shard, shards sql.NullInt64
	var stale sql.NullString
	err := q.QueryRowContext(ctx, `SELECT r.id, r.customers, r.detail -> 'quality' -> 'sources', r.rules_hash, r.as_of,
		r.detail -> 'incremental' ->> 'change_column', r.detail -> 'incremental' ->> 'changed_through', r.shard, r.shards,
		r.detail -> 'incremental' ->> 'stale_marks' FROM `+runs+` r
		WHERE r.ruleset = $1 AND r.status IN ('succeeded', 'flagged')
		  AND (r.shard IS NULL OR r.shards <> $2 OR r.shard = $3)
		  AND (r.parent_id IS NULL OR (r.shards = $2 AND r.shard = $3)
		       OR NOT EXISTS (SELECT 1 FROM `+runs+` p WHERE p.id = r.parent_id AND p.status IN ('succeeded', 'flagged')))
		ORDER BY r.started_at DESC, r.id DESC LIMIT 1`, ruleset, sh.Count, sh.Index).Scan(
		&last.ID, &last.Customers, &sources, &last.RulesHash, &asOf, &column, &through, &shard, &shards, &stale)
	if errors.Is(err, sql.ErrNoRows) {
		return jobs.PreviousRun{}, false, nil
	}
	if err != nil {
		return jobs.PreviousRun{}, false, err
	}
	last.SourceRows = SourceRows(sources)
	if last.AsOf, err = d.Time(asOf); err != nil {
		return jobs.PreviousRun{}, false, fmt.Errorf("run %d: as_of: %w", last.ID, err)
	}
	if column.Valid && through.Valid {
		last.ChangeColumn = column.String
		// Lenient, as SourceRows is: a value it cannot read makes the next
		// run compare every row's digest, which is always right.
		last.ChangedThrough, _ = time.Parse(time.RFC3339Nano, through.String)
	}
	last.StaleMarks = stale.Valid && (stale.String == "true" || stale.String == "1") // PostgreSQL's text of a JSON true, SQLite's
	if shard.Valid && shards.Valid {
		last.Shard = jobs.Shard{Index: int(shard.Int64), Count: int(shards.Int64)}.String()
	}
	return last, true, nil
}

// SourceRows reads the row count of each facts source from the sources
// of a stored report's quality section (the JSON of
// []jobs.SourceQuality), by source name. It is lenient, as the report of
// an older or newer release may differ: no sources, or sources it cannot
// read, are nil; an entry without a name is skipped.
func SourceRows(sources []byte) map[string]int64 {
	if len(sources) == 0 {
		return nil
	}
	var entries []struct {
		Name string `json:"name"`
		Rows int64  `json:"rows"`
	}
	if err := json.Unmarshal(sources, &entries); err != nil {
		return nil
	}
	var out map[string]int64
	for _, e := range entries {
		if e.Name == "" {
			continue
		}
		if out == nil {
			out = make(map[string]int64, len(entries))
		}
		out[e.Name] = e.Rows
	}
	return out
}

// DecodeReport reads the plan report a run stored (runs.detail); nil
// when it stored none.
func DecodeReport(detail []byte) (*jobs.PlanReport, error) {
	if len(detail) == 0 || string(detail) == "null" {
		return nil, nil
	}
	var rep jobs.PlanReport
	if err := json.Unmarshal(detail, &rep); err != nil {
		return nil, fmt.Errorf("read the stored report: %w", err)
	}
	return &rep, nil
}
