package kernel

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// An incremental run on a source in the state's database reads only the
// customers who can have changed (jobs.ChangedReader): the snapshot
// computes each row's facts digest in SQL (Dialect.Digest), and a
// customer whose state row holds that digest and a wake-up time after
// the run's as-of stays in the database. Those who left the source come
// from an anti-join of the state's keys with the source's, once the read
// is over and only when the counts show someone left (noneLeft).
//
// What the run needs of the customers left unread, their segments and
// the facts' null counts and newest values, is what the whole source and
// the whole state hold less what the run read: two aggregates that join
// nothing (the join and the digests of a million rows cost as much as
// the read itself), one over the source and one over the state rows
// with a digest (only those can be asleep), from which Stream and Keys
// take away the customers they hand out or see leave.

var _ jobs.ChangedReader = (*Joined)(nil)

// digestExpr is the dialect's digest of the fact expressions facts,
// NULL where it has none.
func digestExpr(d *Dialect, facts []string) string {
	if d.Digest == nil {
		return "NULL"
	}
	return d.Digest(facts)
}

// changedSQL is the condition on a source row joined to its mark m (a
// state row, or the marks alone; its columns NULL when there is none)
// that an incremental run at $1 must read it: a new customer, facts
// unlike their digest in the mark (digest), a wake-up time that has come
// (a NULL one never comes), or, with contacts set (contactSQL), contacts
// within the limits' window.
func changedSQL(m, digest, contacts string) string {
	return m + ".customer_key IS NULL OR " + m + ".facts_digest IS DISTINCT FROM " + digest + " OR " + wakeSQL(m, contacts)
}

// wakeSQL is the condition on a mark m that an incremental run at $1
// must read its customer whatever the facts: a wake-up time that has
// come (a NULL one never comes), or contacts within the limits' window.
func wakeSQL(m, contacts string) string {
	c := m + ".wake_at <= $1"
	if contacts != "" {
		c += " OR " + m + ".customer_key IN (" + contacts + ")"
	}
	return c
}

// contactSQL selects the keys of the customers with an action of rs
// queued within ($2, $1], the contacts the rule set's limits count
// (StateReader.loadContacts). It is not correlated, so that the database
// reads the window's actions once and hashes their keys rather than
// looking them up for every customer.
func contactSQL(t Tables, rs *rules.RuleSet) string {
	return "SELECT ct.customer_key FROM " + t.Actions + " ct WHERE ct.ruleset = " + QuoteLiteral(rs.Name) +
		" AND ct.created_at > $2 AND ct.created_at <= $1" +
		" AND ct.status NOT IN " + withheldOrCancelled + " AND ct.action NOT LIKE 'sync.%'"
}

// ReadChanged narrows the snapshot to the customers an incremental run
// at asOf must read (jobs.ChangedReader), and counts the source and the
// state for Unread. It reads everyone, and says why, where the dialect
// cannot digest facts in SQL, a time fact cannot be ordered there, or a
// key repeats in the source (whose rows on_duplicate must see together).
func (j *Joined) ReadChanged(ctx context.Context, cq jobs.ChangedQuery) (string, error) {
	d := j.src.d
	if d.Digest == nil || d.KeysNotIn == nil {
		return d.Name + " cannot compare fact digests in SQL", nil
	}
	if !j.state.reads {
		return "the state has no row for the rule set's segmentations", nil
	}
	key, facts := factExprs(d, j.rs, j.cols)
	byName := make(map[string]*Column, len(j.cols))
	for i := range j.cols {
		byName[j.cols[i].Name] = &j.cols[i]
	}
	sel := []string{"count(*)"}
	for k, f := range j.rs.Facts.Fields {
		if f.Nullable {
			sel = append(sel, "count(*) - count("+facts[k]+")")
		} else {
			sel = append(sel, "0") // a null is a fact error: the customer wakes every run
		}
	}
	for k, f := range j.rs.Facts.Fields {
		if f.Type != rules.TypeTime {
			sel = append(sel, "NULL")
			continue
		}
		agg, ok := d.Newest(facts[k], f, byName[f.Name])
		if !ok {
			return fmt.Sprintf("facts.%s is read as text, so its newest value cannot be found in SQL", f.Name), nil
		}
		sel = append(sel, agg)
	}
	change := ""
	if cq.ChangeColumn != "" {
		var err error
		if change, err = j.changeColumn(ctx, cq.ChangeColumn, byName); err != nil {
			return "", err
		}
		agg, _ := d.Newest(change, rules.Field{Name: cq.ChangeColumn, Type: rules.TypeTime}, byName[cq.ChangeColumn])
		sel = append(sel, agg)
	}
	dups, err := j.duplicates(ctx, key)
	if err != nil {
		return "", fmt.Errorf("read facts of %s: %w", j.rs.Name, j.src.secrets.Err(err))
	}
	if dups > 0 {
		return fmt.Sprintf("the source repeats %d customer keys", dups), nil
	}
	c := &changedCounts{rs: j.rs, state: map[string]int64{}, read: map[string]int64{}, left: map[string]int64{}, changeColumn: change != ""}
	if err := c.source(ctx, j.tx, "SELECT "+strings.Join(sel, ", ")+" FROM ("+j.sql+") AS src", d); err != nil {
		return "", fmt.Errorf("count the facts of %s: %w", j.rs.Name, j.src.secrets.Err(err))
	}
	// The state's counts: the tally the applies keep, or a count of the
	// rows where there is none (before the first apply after schema
	// version 10).
	tally, ok, err := loadTally(ctx, j.tx, j.t, j.rs.Name)
	if err == nil && !ok {
		tally = tallyGroups{}
		err = countTally(ctx, j.tx, tallyQuery(d, j.t, j.state.lay, ""), j.state.lay.Segments(), j.rs.Name, 1, tally)
	}
	if err != nil {
		return "", fmt.Errorf("count the state of %s: %w", j.rs.Name, j.src.secrets.Err(err))
	}
	c.tallied(tally, j.state.lay)
	var n narrowing
	args := []any{d.TimeArg(cq.AsOf)}
	if cq.Follow != nil && cq.Follow.Contacts {
		n.contacts = contactSQL(j.t, j.rs)
		args = append(args, d.TimeArg(cq.Follow.ContactsSince))
	}
	if change != "" && !cq.ChangedSince.IsZero() {
		args = append(args, d.TimeArg(cq.ChangedSince))
		n.change, n.unchanged = d.ChangedAfter(change, "$"+strconv.Itoa(len(args)))
	}
	if cq.EngineOnly {
		c.decidedWhy = "the run was asked to decide every customer in the engine"
	} else {
		if n.decided, c.decidedWhy, err = decidedSQL(d, j.rs, j.state.lay, j.cols, cq.AsOf); err != nil {
			return "", err
		}
		c.decided = n.decided != ""
	}
	if cq.DecidedOnly {
		if !c.decided {
			return cmp.Or(c.decidedWhy, d.Name+" does not run the rules"), nil
		}
		n, args = narrowing{decided: n.decided, all: true}, args[:1] // the as-of alone
	}
	if n.decided != "" {
		n.sample = d.Decide.Sample(key, cq.AsOf)
		j.checks = true
	}
	j.query = snapshotQuery(d, j.t, j.rs, j.state.lay, j.cols, j.sql, &n)
	// A decision of every customer is the database's work, not the
	// engine's: split it across backends, where the dialect can.
	if n.all && d.Decide.Part != nil && d.Decide.Parts > 1 && j.state.sibling != nil {
		j.parts = nil
		for p := range d.Decide.Parts {
			n.part = d.Decide.Part(key, d.Decide.Parts, p)
			j.parts = append(j.parts, snapshotQuery(d, j.t, j.rs, j.state.lay, j.cols, j.sql, &n))
		}
		j.query = j.parts[0]
	}
	j.args = args
	j.changed = c
	return "", nil
}

// changeColumn is the change column name of the source as an expression
// on its row src, once the column is known to be there and to hold times
// the dialect can order.
func (j *Joined) changeColumn(ctx context.Context, name string, byName map[string]*Column) (string, error) {
	d, expr := j.src.d, "src."+QuoteIdent(name)
	if byName[name] == nil { // not among the described columns, or none are (SQLite): ask
		rows, err := j.tx.QueryContext(ctx, "SELECT "+expr+" FROM ("+j.sql+") AS src LIMIT 0")
		if err == nil {
			err = rows.Close()
		}
		if err != nil {
			return "", fmt.Errorf("%s: the change column %q cannot be read from the source (%v): set change_column in tierflow.yaml to a column of its rows, or leave it out",
				j.rs.Name, name, j.src.secrets.Err(err))
		}
	}
	if d.ChangedAfter == nil {
		return "", fmt.Errorf("%s: %s cannot compare a change column in SQL: leave change_column out", j.rs.Name, d.Name)
	}
	if _, ok := d.Newest(expr, rules.Field{Name: name, Type: rules.TypeTime}, byName[name]); !ok {
		t := ""
		if c := byName[name]; c != nil {
			t = " (" + strings.ToLower(c.DBType) + ")"
		}
		return "", fmt.Errorf("%s: the change column %q%s does not hold times: it must be a timestamptz, timestamp (UTC) or date column that every insert and update sets", j.rs.Name, name, t)
	}
	return expr, nil
}

// segmentElems are the state row st's segments, one per segmentation of
// the rule set (NULL for one the layout has no place for yet).
func (j *Joined) segmentElems() []string {
	var out []string
	for _, s := range j.rs.Segmentations {
		if p := j.state.lay.Segment(s.Name); p > 0 {
			out = append(out, j.src.d.State.Elem("st.segments", p))
		} else {
			out = append(out, "NULL")
		}
	}
	return out
}

// Unread is what the run needs of the customers the narrowed snapshot
// left unread (jobs.ChangedReader): the source's counts less those of
// the customers Stream read, and the segments of the state rows with a
// digest less those of the customers Stream read and Keys saw leave. It
// is an error when the counts disagree, which would mean the snapshot is
// not what it was counted from.
func (j *Joined) Unread() (*jobs.Unread, error) {
	c := j.changed
	if c == nil {
		return nil, errors.New("the snapshot was not narrowed")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fields := j.rs.Facts.Fields
	u := &jobs.Unread{Customers: c.rows - c.readRows, Nulls: make([]int64, len(fields)), Newest: c.newest, ChangedThrough: c.through,
		Decided: c.decided, NotDecided: c.decidedWhy}
	for k := range fields {
		u.Nulls[k] = c.nulls[k] - c.readNulls[k]
	}
	var sum int64
	for combo, n := range c.state {
		n -= c.read[combo] + c.left[combo]
		if n < 0 {
			return nil, fmt.Errorf("count the customers of %s left unread: the state has %d fewer in segments %s than the run read or saw leave%s",
				j.rs.Name, -n, strings.ReplaceAll(combo, "\x00", " / "), unreadAdvice)
		}
		if n > 0 {
			segs := strings.Split(combo, "\x00")
			if combo == "" && len(j.rs.Segmentations) == 0 {
				segs = nil
			}
			u.Groups = append(u.Groups, jobs.UnreadGroup{Segments: segs, Customers: n})
			sum += n
		}
	}
	if sum != u.Customers {
		return nil, fmt.Errorf("count the customers of %s left unread: %d by the state's count, %d by the source's%s",
			j.rs.Name, sum, u.Customers, unreadAdvice)
	}
	return u, nil
}

// unreadAdvice ends the errors of counts that disagree (Unread).
const unreadAdvice = ": the incremental run cannot tell its figures, so nothing was written; run with --full, which reads everyone and counts the state afresh." +
	" Unless customer_state was edited or restored by hand without its state_tally (docs/operations.md#the-state-tables), report this with the rule set's name"

// changedCounts are the counts Unread takes the unread customers' from.
type changedCounts struct {
	rs *rules.RuleSet
	mu sync.Mutex
	// rows, nulls and newest are the whole source's; state counts the
	// state rows with a digest by their segments (segmentKey), listed
	// the state rows Keys would list if they left (listedSQL).
	rows   int64
	nulls  []int64
	newest []time.Time
	state  map[string]int64
	listed int64
	// decided is true when the database decided who is unchanged
	// (decidedSQL); decidedWhy says why not, if the dialect could have.
	decided    bool
	decidedWhy string
	// changeColumn says the source's aggregate ends with the change
	// column's latest value, through.
	changeColumn bool
	through      time.Time
	// read counts the customers Stream handed out (readNulls, their
	// nulls), and, by segments, those of them with a digest; readListed
	// those of them whose state row is among the listed, or may be; left
	// counts those with a digest that Keys saw leave.
	readRows   int64
	readNulls  []int64
	read       map[string]int64
	readListed int64
	left       map[string]int64
}

// noneLeft reports whether the counts show that every listed state row
// is of a customer the source returned, once Stream has been read: the
// unread ones all are, and so are those read with a state row among the
// listed. readListed counts a read customer whose row may be listed
// (its mark has a digest, or one of the rule set's segmentations a
// segment) and listed every row with a digest or a segment anywhere in
// the layout, so listed can only exceed what the customers read and
// unread account for: when the two are equal, nobody left.
func (c *changedCounts) noneLeft() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listed == c.rows-c.readRows+c.readListed
}

// segmentKey is a combination of segments, one per segmentation.
func segmentKey(segs []string) string { return strings.Join(segs, "\x00") }

// source reads the source's aggregate q: the count, a null count and a
// newest value per fact.
func (c *changedCounts) source(ctx context.Context, tx *sql.Tx, q string, d *Dialect) error {
	fields := c.rs.Facts.Fields
	vals := make([]any, 1+2*len(fields))
	if c.changeColumn {
		vals = append(vals, nil)
	}
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := tx.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		return err
	}
	var err error
	if c.rows, err = int64Value(vals[0]); err != nil {
		return err
	}
	c.nulls, c.readNulls, c.newest = make([]int64, len(fields)), make([]int64, len(fields)), make([]time.Time, len(fields))
	for k, f := range fields {
		if c.nulls[k], err = int64Value(vals[1+k]); err != nil {
			return err
		}
		v := vals[1+len(fields)+k]
		if v == nil {
			continue
		}
		tv, err := d.Fact(f, v)
		if err != nil {
			return fmt.Errorf("newest %s: %w", f.Name, err)
		}
		if t, ok := tv.(time.Time); ok {
			c.newest[k] = t
		}
	}
	if c.changeColumn && vals[len(vals)-1] != nil {
		tv, err := d.Fact(rules.Field{Name: "change_column", Type: rules.TypeTime}, vals[len(vals)-1])
		if err != nil {
			return fmt.Errorf("the change column's latest value: %w", err)
		}
		c.through, _ = tv.(time.Time)
	}
	return nil
}

// tallied takes the state's counts from the state tally g
// (TallyWrite), the rule set's segmentations at their positions in lay:
// the tally counts every state row, the listed (listedSQL) among them.
func (c *changedCounts) tallied(g tallyGroups, lay *Layout) {
	pos := make([]int, len(c.rs.Segmentations))
	for i, s := range c.rs.Segmentations {
		pos[i] = lay.Segment(s.Name)
	}
	combo := make([]string, len(pos))
	for k, n := range g {
		segs, digest := splitTallyKey(k)
		if !digest && !slices.ContainsFunc(segs, func(s string) bool { return s != "" }) {
			continue // neither a segment nor a digest: not listed
		}
		c.listed += n
		if !digest {
			continue
		}
		for i, p := range pos {
			combo[i] = ""
			if p > 0 && p <= len(segs) {
				combo[i] = segs[p-1]
			}
		}
		c.state[segmentKey(combo)] += n
	}
}

// boolValue is a boolean as a driver returns it: a bool, or 0 or 1.
func boolValue(v any) (bool, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	n, err := int64Value(v)
	return n != 0, err
}

// readBatch counts the customers of a batch Stream hands out.
func (c *changedCounts) readBatch(b []engine.Customer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	combo := make([]string, len(c.rs.Segmentations))
	for i := range b {
		cu := &b[i]
		c.readRows++
		for k, f := range c.rs.Facts.Fields {
			if f.Nullable && k < len(cu.Facts) && cu.Facts[k] == nil && !cu.HasFactError(f.Name) {
				c.readNulls[k]++
			}
		}
		known := false
		for s := range combo {
			combo[s] = ""
			if s < len(cu.State.Segments) {
				combo[s] = cu.State.Segments[s].Segment
				known = known || combo[s] != ""
			}
		}
		if cu.State.Mark.Digest == 0 {
			if known {
				c.readListed++
			}
			continue // no digest: not among the state rows counted by segments
		}
		c.readListed++
		c.read[segmentKey(combo)]++
	}
}

// leftKeys lists, in byte order, the customers of the rule set's state
// rows whose key the source does not return: those with a segment to fn
// in batches of at most batchSize (Keys), and the segments of those with
// a digest to the counts.
//
// Jobs calls it once Stream has been read (ChangedReader), and it reads
// nothing when the counts show that nobody left (noneLeft).
func (j *Joined) leftKeys(ctx context.Context, batchSize int, fn func([]string) error) error {
	if j.changed.noneLeft() {
		return nil
	}
	r := j.state
	if batchSize <= 0 {
		batchSize = 1000
	}
	q := r.tx
	if r.sibling != nil {
		tx, err := r.sibling(ctx)
		if err != nil {
			return fmt.Errorf("read the customers of %s: %w", j.rs.Name, j.src.secrets.Err(err))
		}
		defer tx.Rollback() //nolint:errcheck
		for _, set := range j.src.d.LeftSettings {
			if _, err := tx.ExecContext(ctx, set); err != nil {
				return fmt.Errorf("read the customers of %s: %w", j.rs.Name, j.src.secrets.Err(err))
			}
		}
		q = tx
	}
	d, segs := j.src.d, j.segmentElems()
	known := r.lay.anySegment(d, "st")
	sel := append([]string{d.ByteOrder("st.customer_key"), known, "st.facts_digest IS NOT NULL"}, segs...)
	rows, err := q.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+j.t.State+" st WHERE st.ruleset = $1 AND "+j.listedSQL()+
		" AND "+j.leftSQL()+" ORDER BY 1", j.rs.Name)
	if err != nil {
		return fmt.Errorf("read the customers of %s: %w", j.rs.Name, j.src.secrets.Err(err))
	}
	defer rows.Close()
	var key string
	var isKnown, digested bool
	vals := make([]any, len(segs))
	dest := []any{&key, &isKnown, &digested}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	combo := make([]string, len(segs))
	batch := make([]string, 0, batchSize)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read the customers of %s: %w", j.rs.Name, j.src.secrets.Err(err))
		}
		if digested {
			for i := range combo {
				combo[i] = textValue(vals[i])
			}
			j.changed.mu.Lock()
			j.changed.left[segmentKey(combo)]++
			j.changed.mu.Unlock()
		}
		if !isKnown {
			continue
		}
		if batch = append(batch, key); len(batch) == batchSize {
			if err := fn(batch); err != nil {
				return err
			}
			batch = make([]string, 0, batchSize)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the customers of %s: %w", j.rs.Name, j.src.secrets.Err(err))
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// duplicates counts the source's rows whose key (the text expression
// key) an earlier row has: 0 without a look at the rows when the source
// is a table whose key column is unique.
func (j *Joined) duplicates(ctx context.Context, key string) (int64, error) {
	if table, ok := j.src.Table(); ok && j.src.d.UniqueKey != nil {
		unique, err := j.src.d.UniqueKey(ctx, j.tx, table, j.rs.Key)
		if err != nil || unique {
			return 0, err
		}
	}
	var dups int64
	err := j.tx.QueryRowContext(ctx, "SELECT count("+key+") - count(DISTINCT "+key+") FROM ("+j.sql+") AS src").Scan(&dups)
	return dups, err
}

// listedSQL is the condition on a state row st that leftKeys lists it if
// its customer left: it has a segment (Keys' customers) or a digest (the
// unread counts').
func (j *Joined) listedSQL() string {
	return "(" + j.state.lay.anySegment(j.src.d, "st") + " OR st.facts_digest IS NOT NULL)"
}

// leftSQL is the condition on a state row st that the source has no row
// of its customer.
func (j *Joined) leftSQL() string {
	key, _ := factExprs(j.src.d, j.rs, nil)
	return j.src.d.KeysNotIn("st.customer_key", "SELECT "+key+" FROM ("+j.sql+") AS src WHERE "+key+" IS NOT NULL")
}
