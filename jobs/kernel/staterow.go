package kernel

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// A SQL store keeps one state row per customer and rule set (Tables.State):
// the customer's segment, since and pending-since dates, reason and the
// run that wrote it for each segmentation, and the last time each action
// started its cooldown, in arrays; the layout (Tables.Layout) gives each
// segmentation and action of the rule set its position in them. A
// position is never given again or moved: a segmentation or action the
// rules add gets the next free one, one they remove keeps its own (its
// state stays, unread, as the old tables kept the rows of removed
// segmentations), and reordering the rules changes nothing. So a row
// written under any earlier layout reads correctly under the latest: an
// array shorter than the layout has no state at the positions past its
// end.

// Layout kinds.
const (
	kindSegmentation = "segmentation"
	kindAction       = "action"
)

// ElemType is the type of the elements of a state row's array.
type ElemType int

// The element types of state arrays.
const (
	TextElems ElemType = iota // segments, reasons
	TimeElems                 // since, pending-since, action times
	IntElems                  // run ids
)

// StateSQL is the part of a dialect that reads and builds the arrays of
// state rows.
type StateSQL struct {
	// Elem is element pos (1-based) of the array in column expr: NULL
	// where the element is null or past the array's end.
	Elem func(expr string, pos int) string
	// Array is an array of type typ with the elements elems (SQL
	// expressions, in position order).
	Array func(typ ElemType, elems []string) string
	// Later is the later of times a and b, either of which may be NULL
	// (NULL when both are).
	Later func(a, b string) string

	// Pack, where set, is one text value holding the values of elems
	// (SQL expressions of any type, NULLs kept), in which a snapshot reads
	// a customer's state columns, and Unpack splits its text back into
	// dst, in order, "" for each NULL. One column where there were a
	// dozen: the driver allocates for every column it decodes, and the
	// state's were some 15 of a full apply's 39 allocations per customer
	// (docs/benchmarks.md). ParseTime converts a time element, as read by
	// Dialect.TimeText.
	Pack      func(elems []string) string
	Unpack    func(dst []string, packed string) ([]string, error)
	ParseTime func(s string) (time.Time, error)
}

// Layout is a rule set's map of segmentation and action names to their
// positions in its state rows (1-based), as a read of Tables.Layout found
// it plus the entries an apply adds (Register, Action), which it writes
// with InsertSQL.
type Layout struct {
	segs, acts map[string]int
	added      []layoutEntry
}

type layoutEntry struct {
	kind, name string
	pos        int
}

// NewLayout is the layout a first apply of rs writes: every segmentation
// and action at its position in the rule file.
func NewLayout(rs *rules.RuleSet) *Layout {
	l := &Layout{segs: map[string]int{}, acts: map[string]int{}}
	l.Register(rs)
	l.added = nil
	return l
}

// ReadLayout reads the layout of rule set ruleset from t.Layout in q.
func ReadLayout(ctx context.Context, q Queryer, t Tables, ruleset string) (*Layout, error) {
	l := &Layout{segs: map[string]int{}, acts: map[string]int{}}
	rows, err := q.QueryContext(ctx, "SELECT kind, name, position FROM "+t.Layout+" WHERE ruleset = $1", ruleset)
	if err != nil {
		return nil, fmt.Errorf("read the state layout of %s: %w", ruleset, err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, name string
		var pos int
		if err := rows.Scan(&kind, &name, &pos); err != nil {
			return nil, fmt.Errorf("read the state layout of %s: %w", ruleset, err)
		}
		switch kind {
		case kindSegmentation:
			l.segs[name] = pos
		case kindAction:
			l.acts[name] = pos
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the state layout of %s: %w", ruleset, err)
	}
	return l, nil
}

// Segment returns the position of segmentation name, 0 for none.
func (l *Layout) Segment(name string) int { return l.segs[name] }

// LastAction returns the position of action name, 0 for none.
func (l *Layout) LastAction(name string) int { return l.acts[name] }

// Segments is the number of segmentation positions.
func (l *Layout) Segments() int { return maxPos(l.segs) }

// Actions is the number of action positions.
func (l *Layout) Actions() int { return maxPos(l.acts) }

func maxPos(m map[string]int) int {
	n := 0
	for _, p := range m {
		n = max(n, p)
	}
	return n
}

// Register gives every segmentation and action of rs a position, in the
// rule file's order, where it has none: what an apply of rs writes.
func (l *Layout) Register(rs *rules.RuleSet) {
	for _, s := range rs.Segmentations {
		l.add(kindSegmentation, s.Name)
	}
	for _, a := range rs.Actions {
		l.add(kindAction, a.Name)
	}
}

// Action returns the position of action name, giving it the next free one
// when it has none: a segment sync (SyncAction), which only runs with a
// sync configured. The first sync gives every segmentation's sync of rs a
// position at once, in the rule file's order, so that positions do not
// depend on which customer moved first.
func (l *Layout) Action(rs *rules.RuleSet, name string) int {
	if p := l.acts[name]; p > 0 {
		return p
	}
	if strings.HasPrefix(name, SyncAction("")) {
		for _, s := range rs.Segmentations {
			l.add(kindAction, SyncAction(s.Name))
		}
	}
	return l.add(kindAction, name)
}

func (l *Layout) add(kind, name string) int {
	m := l.segs
	if kind == kindAction {
		m = l.acts
	}
	if p := m[name]; p > 0 {
		return p
	}
	p := maxPos(m) + 1
	m[name] = p
	l.added = append(l.added, layoutEntry{kind, name, p})
	return p
}

// InsertSQL is the statement that writes the entries the apply added to
// the layout of rule set ruleset, "" when there are none.
func (l *Layout) InsertSQL(t Tables, ruleset string) string {
	if len(l.added) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + t.Layout + " (ruleset, kind, name, position) VALUES ")
	for i, e := range l.added {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%s, %s, %s, %d)", QuoteLiteral(ruleset), QuoteLiteral(e.kind), QuoteLiteral(e.name), e.pos)
	}
	// The shards of a sharded run register the same entries at the same
	// positions, and write them at once (Settle).
	b.WriteString(" ON CONFLICT DO NOTHING")
	return b.String()
}

// names returns the names of kind's positions, by name.
func (l *Layout) names(kind string) []string {
	m := l.segs
	if kind == kindAction {
		m = l.acts
	}
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// anySegment is the condition that the state row st has a segment in some
// segmentation of the layout: a customer the state knows (Keys, Initial).
// It is false when the layout has no segmentation.
func (l *Layout) anySegment(d *Dialect, st string) string {
	n := l.Segments()
	if n == 0 {
		return "false"
	}
	conds := make([]string, n)
	for p := 1; p <= n; p++ {
		conds[p-1] = d.State.Elem(st+".segments", p) + " IS NOT NULL"
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// Settle reconciles l, read and extended at the start of an apply, with
// stored, the layout as other applies committed it since (the shards of
// a sharded run, which register the same rule set alike): entries stored
// at the position l gives them are no longer l's to add. An entry stored
// at another position means the state rows l staged would be misread,
// and is an error.
func (l *Layout) Settle(stored *Layout) error {
	for _, m := range []struct {
		kind       string
		own, other map[string]int
	}{{kindSegmentation, l.segs, stored.segs}, {kindAction, l.acts, stored.acts}} {
		for name, pos := range m.other {
			if own, ok := m.own[name]; ok && own != pos {
				return fmt.Errorf("the state layout changed while the run read the state (%s %s is at position %d, not %d): rerun it", m.kind, name, pos, own)
			}
		}
	}
	kept := l.added[:0]
	for _, e := range l.added {
		other := stored.segs
		if e.kind == kindAction {
			other = stored.acts
		}
		if _, ok := other[e.name]; ok {
			continue
		}
		for name, pos := range other {
			if pos == e.pos {
				return fmt.Errorf("the state layout changed while the run read the state (position %d of the %ss is %s's, not %s's): rerun it", pos, e.kind, name, e.name)
			}
		}
		kept = append(kept, e)
	}
	l.added = kept
	return nil
}
