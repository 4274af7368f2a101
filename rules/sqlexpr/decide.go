package sqlexpr

import (
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// Previous is how a statement reads a customer's previous assignment in
// one segmentation: its segment (text; empty or NULL for none), since and
// pending-since times (timestamptz; NULL for none).
type Previous struct {
	Segment, Since, PendingSince string
}

// Decision is the SQL of one segmentation's decision for a customer, as
// the engine makes it from what the conditions match (MatchSegmentation)
// and the previous assignment: min_stay and downgrade_grace keep the
// previous segment, a rule error keeps the previous assignment whole.
// Each part is NULL where the match is Engine; Segment is then Engine.
type Decision struct {
	Segment      string // text; NULL for no segment (a new customer whose condition failed)
	Since        string // timestamptz
	PendingSince string // timestamptz; NULL for none
	// Reason is the engine's reason, by name: matched, fallback,
	// min_stay, downgrade_grace or error.
	Reason string
}

// Decide is the decision of segmentation s where the text column match
// holds its MatchSegmentation outcome, at the as-of time asOf (a
// timestamptz expression), after prev.
func Decide(s *rules.Segmentation, match, asOf string, prev Previous) Decision {
	p := "COALESCE(" + prev.Segment + ", '')"
	mi, pi := segmentIndex(s, match), segmentIndex(s, p)
	// The engine keeps the customer in the previous segment k when
	// another matched and: a lower one matched within k's grace, counted
	// from the pending downgrade's start (the as-of if none, or a later
	// one), or k's min_stay has not passed since the customer entered it.
	pending := "CASE WHEN " + prev.PendingSince + " IS NULL OR " + prev.PendingSince + " > " + asOf + " THEN " + asOf + " ELSE " + prev.PendingSince + " END"
	var grace, stay []string
	for k, seg := range s.Segments {
		if seg.DowngradeGrace > 0 {
			grace = append(grace, " WHEN "+strconv.Itoa(k)+" THEN "+mi+" > "+strconv.Itoa(k)+" AND "+within(asOf, pending, seg.DowngradeGrace))
		}
		if seg.MinStay > 0 {
			stay = append(stay, " WHEN "+strconv.Itoa(k)+" THEN "+within(asOf, prev.Since, seg.MinStay))
		}
	}
	moved := pi + " >= 0 AND " + mi + " <> " + pi
	graced, stays := "FALSE", "FALSE"
	if len(grace) > 0 {
		graced = "(" + moved + " AND CASE " + pi + strings.Join(grace, "") + " ELSE FALSE END)"
	}
	if len(stay) > 0 {
		stays = "(" + moved + " AND CASE " + pi + strings.Join(stay, "") + " ELSE FALSE END)"
	}
	kept := "(" + graced + " OR " + stays + ")"
	engine, failed := match+" = "+quote(Engine), match+" = "+quote(Failed)
	known := pi + " >= 0"
	fallback := "NULL"
	if s.Fallback >= 0 {
		fallback = quote(s.Segments[s.Fallback].Name)
	}
	return Decision{
		Segment: "CASE WHEN " + engine + " THEN " + quote(Engine) + " WHEN " + failed + " THEN CASE WHEN " + known + " THEN " + p + " END" +
			" WHEN " + kept + " THEN " + p + " ELSE " + match + " END",
		Since: "CASE WHEN " + engine + " THEN NULL WHEN " + failed + " THEN CASE WHEN " + known + " THEN " + prev.Since + " END" +
			" WHEN " + known + " AND (" + mi + " = " + pi + " OR " + kept + ") THEN " + prev.Since + " ELSE " + asOf + " END",
		PendingSince: "CASE WHEN " + engine + " THEN NULL WHEN " + failed + " THEN CASE WHEN " + known + " THEN " + prev.PendingSince + " END" +
			" WHEN " + graced + " THEN " + pending + " END",
		Reason: "CASE WHEN " + engine + " THEN NULL WHEN " + failed + " THEN 'error' WHEN " + graced + " THEN 'downgrade_grace'" +
			" WHEN " + stays + " THEN 'min_stay' WHEN " + match + " = " + fallback + " THEN 'fallback' ELSE 'matched' END",
	}
}

// segmentIndex is the index of the segment of s named by the text x, -1
// for none.
func segmentIndex(s *rules.Segmentation, x string) string {
	var b strings.Builder
	b.WriteString("CASE " + x)
	for k, seg := range s.Segments {
		b.WriteString(" WHEN " + quote(seg.Name) + " THEN " + strconv.Itoa(k))
	}
	b.WriteString(" ELSE -1 END")
	return "(" + b.String() + ")"
}

// within is the condition that less than d has passed from since to
// asOf, as Go's asOf.Sub(since) < d computes it: the exact difference in
// numeric nanoseconds (Go's saturation at 292 years changes no comparison
// with a duration shorter than that).
func within(asOf, since string, d time.Duration) string {
	return "(" + epoch(asOf) + " - " + epoch(since) + ") * 1000000000 < " + strconv.FormatInt(d.Nanoseconds(), 10)
}
