package kernel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// An incremental run on a source in the state's database reads only the
// customers who can have changed (jobs.ChangedReader): the snapshot
// computes each row's facts digest in SQL (Dialect.Digest), and a
// customer whose state row holds that digest and a wake-up time after
// the run's as-of stays in the database. What the run needs of those
// customers, their segment sizes and the facts' null counts and newest
// values, comes back from one aggregate; those who left the source come
// from an anti-join of the state's keys with the source's.

var _ jobs.ChangedReader = (*Joined)(nil)

// digestExpr is the dialect's digest of the fact expressions facts,
// NULL where it has none.
func digestExpr(d *Dialect, facts []string) string {
	if d.Digest == nil {
		return "NULL"
	}
	return d.Digest(facts)
}

// changedSQL is the condition on a source row joined to its state row
// st (NULL when there is none) that an incremental run at $1 must read
// it: a new customer, facts unlike their digest in the mark (digest), a
// wake-up time that has come (a NULL one never comes), or, with
// contacts set (contactSQL), contacts within the limits' window.
func changedSQL(digest, contacts string) string {
	c := "st.customer_key IS NULL OR st.facts_digest IS DISTINCT FROM " + digest + " OR st.wake_at <= $1"
	if contacts != "" {
		c += " OR st.customer_key IN (" + contacts + ")"
	}
	return c
}

// asleepSQL is the opposite of changedSQL for a row that has a state
// row, true or false (never NULL): same digest, wake-up time after $1 or
// never, no contact.
func asleepSQL(digest, contacts string) string {
	c := "COALESCE(st.facts_digest = " + digest + ", false) AND (st.wake_at IS NULL OR st.wake_at > $1)"
	if contacts != "" {
		c += " AND st.customer_key NOT IN (" + contacts + ")"
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
// at asOf must read (jobs.ChangedReader) and returns the counts of the
// others. It reads everyone, and says why, where the dialect cannot
// digest facts in SQL, a time fact cannot be ordered there, or a key
// repeats in the source (whose rows on_duplicate must see together).
func (j *Joined) ReadChanged(ctx context.Context, asOf time.Time, follow *jobs.FollowUpQuery) (*jobs.Unread, string, error) {
	d := j.src.d
	if d.Digest == nil || d.KeysNotIn == nil {
		return nil, d.Name + " cannot compare fact digests in SQL", nil
	}
	if !j.state.reads {
		return nil, "the state has no row for the rule set's segmentations", nil
	}
	key, facts := factExprs(d, j.rs, j.cols)
	byName := make(map[string]*Column, len(j.cols))
	for i := range j.cols {
		byName[j.cols[i].Name] = &j.cols[i]
	}
	var sel []string
	segs := len(j.rs.Segmentations)
	for _, s := range j.rs.Segmentations {
		if p := j.state.lay.Segment(s.Name); p > 0 {
			sel = append(sel, d.State.Elem("st.segments", p))
		} else {
			sel = append(sel, "NULL")
		}
	}
	sel = append(sel, "count(*)")
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
			return nil, fmt.Sprintf("facts.%s is read as text, so its newest value cannot be found in SQL", f.Name), nil
		}
		sel = append(sel, agg)
	}

	dups, err := j.duplicates(ctx, key)
	if err != nil {
		return nil, "", fmt.Errorf("read facts of %s: %w", j.rs.Name, j.src.secrets.Err(err))
	}
	if dups > 0 {
		return nil, fmt.Sprintf("the source repeats %d customer keys", dups), nil
	}

	digest, contacts := digestExpr(d, facts), ""
	args := []any{d.TimeArg(asOf)}
	if follow != nil && follow.Contacts {
		contacts = contactSQL(j.t, j.rs)
		args = append(args, d.TimeArg(follow.ContactsSince))
	}
	// The rows are grouped by whether they are asleep too, rather than
	// filtered: a filter comparing the digest with the mark's looks to the
	// planner like a second join key, which it believes leaves one row,
	// and it aggregates serially after a sort; a group key it does not.
	sel = append([]string{asleepSQL(digest, contacts)}, sel...)
	by := make([]string, 1+segs)
	for i := range by {
		by[i] = strconv.Itoa(i + 1)
	}
	q := fmt.Sprintf("SELECT %s\nFROM (%s) AS src\nJOIN %s st ON st.ruleset = %s AND st.customer_key = %s\nGROUP BY %s",
		strings.Join(sel, ", "), j.sql, j.t.State, QuoteLiteral(j.rs.Name), key, strings.Join(by, ", "))
	u, err := j.unread(ctx, q, args, segs)
	if err != nil {
		return nil, "", fmt.Errorf("count the customers of %s left unread: %w", j.rs.Name, j.src.secrets.Err(err))
	}
	j.query = snapshotQuery(d, j.t, j.rs, j.state.lay, j.cols, j.sql, true, contacts)
	j.args = args
	j.changed = true
	return u, "", nil
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

// unread reads the rows of the aggregate q (ReadChanged) with the
// run's as-of and contacts window args: whether they are asleep, segs
// segments, the count, a null count and a newest value per fact. It
// counts the asleep ones.
func (j *Joined) unread(ctx context.Context, q string, args []any, segs int) (*jobs.Unread, error) {
	fields := j.rs.Facts.Fields
	u := &jobs.Unread{Nulls: make([]int64, len(fields)), Newest: make([]time.Time, len(fields))}
	rows, err := j.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vals := make([]any, segs+1+2*len(fields))
	var asleep bool
	dest := []any{&asleep}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if !asleep {
			continue
		}
		g := jobs.UnreadGroup{Segments: make([]string, segs)}
		for i := range segs {
			g.Segments[i] = textValue(vals[i])
		}
		if g.Customers, err = int64Value(vals[segs]); err != nil {
			return nil, err
		}
		u.Customers += g.Customers
		u.Groups = append(u.Groups, g)
		for k, f := range fields {
			n, err := int64Value(vals[segs+1+k])
			if err != nil {
				return nil, err
			}
			u.Nulls[k] += n
			v := vals[segs+1+len(fields)+k]
			if v == nil {
				continue
			}
			tv, err := j.src.d.Fact(f, v)
			if err != nil {
				return nil, fmt.Errorf("newest %s: %w", f.Name, err)
			}
			if t, ok := tv.(time.Time); ok && t.After(u.Newest[k]) {
				u.Newest[k] = t
			}
		}
	}
	return u, rows.Err()
}

// leftSQL is the condition on a state row st that the source has no row
// of its customer.
func (j *Joined) leftSQL() string {
	key, _ := factExprs(j.src.d, j.rs, nil)
	return j.src.d.KeysNotIn("st.customer_key", "SELECT "+key+" FROM ("+j.sql+") AS src WHERE "+key+" IS NOT NULL")
}
