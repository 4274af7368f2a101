package kernel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// SnapshotQuery selects every customer's key, facts (read from their
// columns in cols, as FactsQuery does), previous segments and, for
// actions with a cooldown, when each was last queued, their mark, and
// the digest of their facts (Dialect.Digest): facts joined to their
// state row (laid out as lay says) in one query, for a source on the
// state database, in ascending byte order of the key's text. Where lay
// gives none of rs's segmentations and cooling actions a position (a
// first run), it reads no state row.
func SnapshotQuery(d *Dialect, t Tables, rs *rules.RuleSet, lay *Layout, cols []Column, src string) string {
	return snapshotQuery(d, t, rs, lay, cols, src, nil)
}

// narrowing is how an incremental run's snapshot leaves out the
// customers who cannot have changed (ReadChanged): contacts selects the
// keys of those with contacts to read all the same (contactSQL; "" for
// none); for a source with a change column, change and unchanged are
// the conditions on its row src that it changed since the last run, or
// did not ("": every row's digest is compared).
type narrowing struct {
	contacts, change, unchanged string
	// decided, when set, is decidedSQL: the rows it holds for stay
	// unread whatever their marks say, but for those sample holds for,
	// which are read with the decision as their last column, for the
	// run to check it; with all, the marks play no part
	// (jobs.ChangedQuery.DecidedOnly) and every other row is read.
	decided, sample string
	all             bool
	// part, when set, narrows the read to one part of the customers
	// (DecideSQL.Part), which Stream reads on a connection of its own.
	part string
}

// read is the condition that a row the marks select (cond) is read: the
// database has not decided it is unchanged, or it is in the sample.
func (n *narrowing) read(cond string) string {
	if n.decided == "" {
		return cond
	}
	return "(" + cond + ") AND (" + n.sample + " OR NOT (" + n.decided + "))"
}

// snapshotQuery is SnapshotQuery, of only the customers an incremental
// run at $1 must read when n is set (changedSQL). With a change column,
// it is two queries: the rows changed since the last run, whose digests
// are compared, and the others, read only when their wake-up time has
// come or they have contacts, so that the database need not digest every
// row, nor join every row to its state where it can look the changed
// ones up. The union is ordered by its first column, the key in byte
// order. Where the dialect looks state rows up (Dialect.LookUpState),
// the changed rows look up their state rows, and the others (or, without
// a change column, every row) join the source to the marks alone and
// look up the whole state rows of the customers they select.
func snapshotQuery(d *Dialect, t Tables, rs *rules.RuleSet, lay *Layout, cols []Column, src string, n *narrowing) string {
	key, facts := factExprs(d, rs, cols)
	sel := append([]string{key}, facts...)
	state, reads := stateColumns(d, lay, rs, "st")
	sel = append(sel, state...)
	digest := digestExpr(d, facts)
	sel = append(sel, digest)
	from := fmt.Sprintf("\nFROM (%s) AS src", src)
	order := "\nORDER BY " + d.ByteOrder(key)
	if !reads {
		return "SELECT " + strings.Join(sel, ", ") + from + order
	}
	ruleset := QuoteLiteral(rs.Name)
	join := fmt.Sprintf(" JOIN %s st ON st.ruleset = %s AND st.customer_key = %s", t.State, ruleset, key)
	if n == nil {
		return "SELECT " + strings.Join(sel, ", ") + from + "\nLEFT" + join + order
	}
	if n.decided != "" {
		sel = append(sel, "("+n.decided+")")
	}
	if n.all {
		where := n.sample + " OR NOT (" + n.decided + ")"
		if n.part != "" {
			where = n.part + " AND (" + where + ")"
		}
		return "SELECT " + strings.Join(sel, ", ") + from + "\nLEFT" + join + "\nWHERE " + where + order
	}
	// m is where the conditions read the marks: the state rows joined,
	// or the marks alone, each selected customer's row looked up after.
	m, left, inner := "st", "\nLEFT"+join, "\n"+strings.TrimPrefix(join, " ")
	if d.LookUpState != nil {
		m = "mk"
		marks := fmt.Sprintf(" JOIN (SELECT customer_key, facts_digest, wake_at FROM %s WHERE ruleset = %s) AS mk ON mk.customer_key = %s",
			t.State, ruleset, key)
		lookUp := "\n" + d.LookUpState(t.State, ruleset, "mk.customer_key")
		left, inner = "\nLEFT"+marks+lookUp, "\n"+strings.TrimPrefix(marks, " ")+lookUp
	}
	if n.change == "" {
		return "SELECT " + strings.Join(sel, ", ") + from + left + "\nWHERE " + n.read(changedSQL(m, digest, n.contacts)) + order
	}
	sel[0] = d.ByteOrder(key)
	// The changed rows are few and found by the change column: each looks
	// its own state row up, where joining them to the marks hashed every
	// customer's (0.5-0.7 s at a million customers, for 83,000 changed).
	changed := "\nLEFT" + join
	if d.LookUpState != nil {
		changed = "\n" + d.LookUpState(t.State, ruleset, key)
	}
	return "SELECT " + strings.Join(sel, ", ") + from + changed + "\nWHERE " + n.read("("+n.change+") AND ("+changedSQL("st", digest, n.contacts)+")") +
		"\nUNION ALL\nSELECT " + strings.Join(sel, ", ") + from + inner + "\nWHERE " + n.read(n.unchanged+" AND ("+wakeSQL(m, n.contacts)+")") +
		"\nORDER BY 1"
}

// Joined is the one-query snapshot of a source on the state database. It
// implements jobs.Snapshot, jobs.Ordered and jobs.StateKeys: the state of
// customers the source no longer returns is read from the same snapshot.
type Joined struct {
	src   *QuerySource
	t     Tables
	rs    *rules.RuleSet
	tx    *sql.Tx
	sql   string
	cols  []Column
	query string
	// args are query's; changed is set once ReadChanged narrowed it to
	// the customers who can have changed, and Keys to those who left: it
	// counts what Unread needs.
	args    []any
	changed *changedCounts
	// checks is true when the query's rows end with the database's
	// decision (narrowing.sample). parts, when set, are the queries of
	// the parts of a read split across connections (narrowing.part),
	// query being the first.
	checks bool
	parts  []string
	// state is the snapshot's state, read in tx; where the dialect
	// shares snapshots, its Keys read in a transaction of their own on
	// tx's snapshot, and loader, which Load uses, is another on it, begun
	// by the first Load: lookups run while Stream reads tx. Otherwise
	// loader is state.
	state  *StateReader
	mu     sync.Mutex // guards loader
	loader *StateReader
}

var (
	_ jobs.Snapshot  = (*Joined)(nil)
	_ jobs.Ordered   = (*Joined)(nil)
	_ jobs.StateKeys = (*Joined)(nil)
)

// OpenJoined opens a consistent read of src's facts joined to the state
// in t, on src's database.
func OpenJoined(ctx context.Context, src *QuerySource, t Tables, rs *rules.RuleSet) (*Joined, error) {
	return openJoinedShard(ctx, src, t, rs, jobs.Shard{})
}

// openJoinedShard is OpenJoined of the customers of shard sh only: the
// source's rows are narrowed in the query, by the dialect's ShardOf. The
// state's keys (of customers the source may no longer return) are all
// listed, and the run keeps its shard's: PostgreSQL's md5 costs 1.6-2 us
// a key, sending a key and hashing it in Go a fraction of that.
func openJoinedShard(ctx context.Context, src *QuerySource, t Tables, rs *rules.RuleSet, sh jobs.Shard) (*Joined, error) {
	q, err := src.SQL()
	if err != nil {
		return nil, src.wrap(rs, err)
	}
	if !sh.IsZero() {
		q = "SELECT * FROM (" + q + ") AS shard_src WHERE " + ShardCond(src.d, src.d.KeyText("shard_src."+QuoteIdent(rs.Key)), sh)
	}
	tx, err := src.d.BeginRead(ctx, src.db)
	if err != nil {
		return nil, src.secrets.Err(err)
	}
	j, err := openJoined(ctx, src, t, rs, tx, q)
	if err != nil {
		tx.Rollback() //nolint:errcheck
		return nil, err
	}
	return j, nil
}

func openJoined(ctx context.Context, src *QuerySource, t Tables, rs *rules.RuleSet, tx *sql.Tx, q string) (*Joined, error) {
	j := &Joined{src: src, t: t, rs: rs, tx: tx, sql: q}
	var err error
	if j.state, err = newStateReader(ctx, tx, src.d, t, rs, src.secrets); err != nil {
		return nil, err
	}
	cols, err := factColumns(ctx, tx, src.d, q)
	if err != nil {
		return nil, src.wrap(rs, err)
	}
	j.cols = cols
	j.query = SnapshotQuery(src.d, t, rs, j.state.lay, cols, q)
	if src.d.ShareSnapshot != nil {
		if j.state.sibling, err = src.d.ShareSnapshot(ctx, src.db, tx); err != nil {
			return nil, fmt.Errorf("read the state of %s: %w", rs.Name, src.secrets.Err(err))
		}
	}
	return j, nil
}

// isInitial reports whether rs has never had state: no customer with a
// segment (in a segmentation of its layout lay), and no history either,
// so that a rule set whose customers all left the source (on_missing:
// exit) is not taken for a first run.
func isInitial(ctx context.Context, q Queryer, d *Dialect, t Tables, rs *rules.RuleSet, lay *Layout) (bool, error) {
	var any bool
	err := q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+t.State+" st WHERE st.ruleset = $1 AND "+lay.anySegment(d, "st")+
		") OR EXISTS (SELECT 1 FROM "+t.History+" WHERE ruleset = $1)", rs.Name).Scan(&any)
	if err != nil {
		return false, fmt.Errorf("read the state of %s: %w", rs.Name, err)
	}
	return !any, nil
}

// Initial reports whether the rule set has no state yet.
func (j *Joined) Initial() bool { return j.state.initial }

// Ordered reports that customers come in byte order of their key.
func (j *Joined) Ordered() bool { return true }

// Close ends the read transactions.
func (j *Joined) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if j.loader != nil && j.loader != j.state {
		err = j.loader.Close()
	}
	j.loader = nil
	return errors.Join(err, j.tx.Rollback())
}

// Count counts the source's rows.
func (j *Joined) Count(ctx context.Context) (int64, error) {
	return count(ctx, j.tx, j.sql, j.src.secrets)
}

// Stream reads every customer with its state.
func (j *Joined) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	wrap := func(err error) error {
		fault := j.checks && j.src.d.Decide.Fault != nil && j.src.d.Decide.Fault(err)
		err = j.src.secrets.Err(err)
		if fault {
			// The query runs the rules' translation: say how to do without.
			return fmt.Errorf("read facts of %s: %w (the database was running the rules to decide who is unchanged: "+
				"rerun with --engine-only, and report this error with the rule file)", j.rs.Name, err)
		}
		return fmt.Errorf("read facts of %s: %w%s", j.rs.Name, err, j.src.d.advice(err))
	}
	var rows Rows
	if len(j.parts) > 1 {
		merged, done, err := j.queryParts(ctx)
		defer done()
		if err != nil {
			return wrap(err)
		}
		rows = merged
	} else {
		r, err := j.tx.QueryContext(ctx, j.query, j.args...)
		if err != nil {
			return wrap(err)
		}
		defer r.Close()
		rows = r
	}
	if c := j.changed; c != nil {
		next := fn
		fn = func(b []engine.Customer) error {
			c.readBatch(b)
			return next(b)
		}
	}
	sc := NewRowScanner(j.rs, j.src.d)
	if j.checks {
		sc.WithSettled()
	}
	return sc.BatchesContext(ctx, rows, batchSize, fn, wrap)
}

// queryParts runs the parts' queries, the first in the snapshot's
// transaction and each other in one of its own on the same snapshot, and
// merges their rows in key order; done closes them.
func (j *Joined) queryParts(ctx context.Context) (*mergedRows, func(), error) {
	var open []*sql.Rows
	var txs []*sql.Tx
	done := func() {
		for _, r := range open {
			r.Close()
		}
		for _, tx := range txs {
			tx.Rollback() //nolint:errcheck // read-only
		}
	}
	for i, q := range j.parts {
		tx := j.tx
		if i > 0 {
			if j.state.sibling == nil {
				return nil, done, errors.New("the read was split, but the database cannot share its snapshot")
			}
			var err error
			if tx, err = j.state.sibling(ctx); err != nil {
				return nil, done, err
			}
			txs = append(txs, tx)
		}
		r, err := tx.QueryContext(ctx, q, j.args...)
		if err != nil {
			return nil, done, err
		}
		open = append(open, r)
	}
	m, err := newMergedRows(open)
	return m, done, err
}

// Keys lists the customers with a segment in the rule set, from the
// snapshot's state, as StateReader.Keys does. It may run while Stream
// and Load do.
func (j *Joined) Keys(ctx context.Context, batchSize int, fn func([]string) error) error {
	if j.changed != nil {
		return j.leftKeys(ctx, batchSize, fn)
	}
	return j.state.Keys(ctx, batchSize, fn)
}

// Load sets the state of every customer of batch from the snapshot's
// state, as StateReader.Load does: for customers the source no longer
// returns. It may run while Stream does, from one goroutine at a time.
func (j *Joined) Load(ctx context.Context, batch []engine.Customer) error {
	r, err := j.stateLoader(ctx)
	if err != nil {
		return err
	}
	return r.Load(ctx, batch)
}

// stateLoader returns the reader Load uses, beginning its transaction on
// the snapshot the first time where the dialect shares snapshots.
func (j *Joined) stateLoader(ctx context.Context) (*StateReader, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.loader != nil {
		return j.loader, nil
	}
	if j.state.sibling == nil {
		j.loader = j.state
		return j.loader, nil
	}
	tx, err := j.state.sibling(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the state of %s: %w", j.rs.Name, j.src.secrets.Err(err))
	}
	r, err := newStateReader(ctx, tx, j.src.d, j.t, j.rs, j.src.secrets)
	if err != nil {
		tx.Rollback() //nolint:errcheck
		return nil, err
	}
	j.loader = r
	return r, nil
}

// Join is the jobs.Joiner of a SQL state store: when src reads owner's
// own database, it checks the schema (check) and opens src's facts joined
// to the state in t, in one query; otherwise it returns ok false.
func Join(ctx context.Context, owner any, src jobs.FactsSource, t Tables, rs *rules.RuleSet, check func(context.Context) error) (jobs.Snapshot, bool, error) {
	return JoinShard(ctx, owner, src, t, rs, check, jobs.Shard{})
}

// JoinShard is Join of the customers of shard sh only (jobs.ShardJoiner),
// for a dialect with ShardOf.
func JoinShard(ctx context.Context, owner any, src jobs.FactsSource, t Tables, rs *rules.RuleSet, check func(context.Context) error, sh jobs.Shard) (jobs.Snapshot, bool, error) {
	qs, ok := src.(*QuerySource)
	if !ok || qs.Owner() != owner {
		return nil, false, nil
	}
	if err := check(ctx); err != nil {
		return nil, true, err
	}
	if !sh.IsZero() && qs.d.ShardOf == nil {
		return nil, false, nil // read whole; the run keeps its shard's customers
	}
	snap, err := openJoinedShard(ctx, qs, t, rs, sh)
	if err != nil {
		return nil, true, err
	}
	return snap, true, nil
}
