package engine_test

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// flagRules reads a fact of every type, nullable and not, with
// conditions that fail at runtime in several ways (a null bool on its
// own, a null compared, a modulo by zero) and stickiness on both sides.
const flagRules = `
ruleset: flags
facts:
  vip: bool?
  blocked: bool
  score: integer?
  share: number
  seen_at: time?
  tag: string?
segmentations:
  - name: flag
    segments:
      - name: vip
        when: vip
      - name: scored
        when: score > 10 && share / score > 1.5
      - name: tagged
        when: hasPrefix(coalesce(tag, ""), "a") || blocked
      - name: recent
        when: days_since(seen_at) < 30
        downgrade_grace: 10d
      - name: rest
        fallback: true
        min_stay: 5d
  - name: band
    segments:
      - name: high
        when: share > 100 || segment.flag == "vip"
      - name: mid
        when: share > 1 && 7 % coalesce(score, 1) != 0
        min_stay: 3d
      - name: low
        fallback: true
actions:
  - name: ping
    when: coalesce(vip, false) || rank("flag") > 3
    payload:
      doubled: =share * 2
      score: =score
      tag: =tag
  - name: nudge
    when: changed("band") && !blocked
    cooldown: 3d
    delay: 1d
    payload:
      days: =days_in_previous("band")
`

// diffSet is one rule set FuzzFastPathAgrees evaluates both ways.
type diffSet struct {
	name        string
	rs          *rules.RuleSet
	fast, slow  *engine.Engine
	strings     []string // string facts are mostly drawn from these
	numberHints []float64
}

// diffSets compiles the rule sets: the examples, and two with runtime
// errors.
func diffSets(f *testing.F) []*diffSet {
	f.Helper()
	sets := []*diffSet{{name: "retail", rs: loadRetail(f)}}
	b2b, err := filepath.Glob("../examples/b2b/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range b2b {
		if strings.HasSuffix(path, "_test.yaml") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		rs, err := rules.Compile(path, src, rules.Options{})
		if err != nil {
			f.Fatalf("compile %s:\n%v", path, err)
		}
		sets = append(sets, &diffSet{name: rs.Name, rs: rs})
	}
	if len(sets) < 3 {
		f.Fatalf("found %d rule sets, want retail and the b2b ones", len(sets))
	}
	sets = append(sets,
		&diffSet{name: "errors", rs: compile(f, errorRules)},
		&diffSet{name: "flags", rs: compile(f, flagRules)},
		&diffSet{name: "leaving", rs: compile(f, leftRules)})
	for _, s := range sets {
		if s.rs.Fast == nil {
			f.Fatalf("rule set %s has no fast path", s.name)
		}
		slow := *s.rs
		slow.Fast = nil
		s.fast, s.slow = engine.New(s.rs), engine.New(&slow)
		s.strings = []string{"", "online", "store", "partner", "a", "abc", "ONLINE", " online", "零售"}
		s.numberHints = paramNumbers(s.rs)
	}
	return sets
}

// paramNumbers lists the rule set's numeric params, and their
// neighbours, so that facts often land on a threshold.
func paramNumbers(rs *rules.RuleSet) []float64 {
	var out []float64
	for _, p := range rs.Params {
		var v float64
		switch x := p.Value.(type) {
		case int:
			v = float64(x)
		case float64:
			v = x
		default:
			continue
		}
		out = append(out, v, -v, v-0.5, v+0.5, v*12, v/100)
	}
	return out
}

// FuzzFastPathAgrees evaluates customers decoded from the fuzz input
// (facts of the schema's types: numbers including NaN, ±Inf, -0 and
// huge ones, nulls, fewer facts than the schema, times around the as-of;
// a previous state with segments that exist or no longer do, since and
// pending dates, and last action times) with the rule set's fast path,
// rule by rule (a copy of the rule set without it), and with Explain, and
// requires the same results from all three: segments, matched segment,
// reason, since and pending dates, actions with priority, due time and
// payload, and rule errors by customer, rule and message. It also
// checks that evaluation leaves the customer alone. The first argument
// picks the rule set: retail, the b2b examples, errorRules, flagRules,
// leftRules (on_missing: exit, whose customers are sometimes absent).
// Crashers go to testdata/fuzz/FuzzFastPathAgrees.
func FuzzFastPathAgrees(f *testing.F) {
	sets := diffSets(f)
	r := rand.New(rand.NewSource(1))
	for i := range sets {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte(strings.Repeat("\xff", 64)))
		for range 6 {
			b := make([]byte, 32+r.Intn(256))
			r.Read(b)
			f.Add(uint8(i), b)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		s := sets[int(which)%len(sets)]
		in := &fuzzInput{b: data}
		asOf := in.asOf()
		var reused engine.Result
		for i := range 1 + int(in.byte()%3) {
			c := in.customer(s, fmt.Sprintf("c%d", i), asOf)
			before := renderCustomer(c)
			s.fast.EvaluateInto(asOf, c, &reused)
			fast := renderResult(&reused)
			slow := s.slow.Evaluate(asOf, c)
			if want := renderResult(slow); fast != want {
				t.Fatalf("%s at %s, customer %s:\nthe fast path gives\n%s\nrule by rule gives\n%s", s.name, asOf, before, fast, want)
			}
			tr := s.fast.Explain(asOf, c)
			if got, want := renderResult(tr.Result), renderResult(slow); got != want {
				t.Fatalf("%s at %s, customer %s:\nExplain gives\n%s\nEvaluate gives\n%s", s.name, asOf, before, got, want)
			}
			if !reflect.DeepEqual(reused.Segments, slow.Segments) {
				t.Fatalf("%s: decisions differ beyond their rendering:\n%#v\n%#v", s.name, reused.Segments, slow.Segments)
			}
			if after := renderCustomer(c); after != before {
				t.Fatalf("%s: evaluation changed the customer:\nbefore %s\nafter  %s", s.name, before, after)
			}
		}
	})
}

// renderResult writes a result in a form two results compare by: NaN
// equals NaN, times are compared with their locations, payloads in key
// order, errors by customer, rule and message.
func renderResult(res *engine.Result) string {
	var b strings.Builder
	for i, d := range res.Segments {
		fmt.Fprintf(&b, "segmentation %d: %q (matched %q, previous %q, reason %s) since %s, pending since %s\n",
			i, d.Segment, d.Matched, d.Previous, d.Reason, renderTime(d.Since), renderTime(d.PendingSince))
	}
	for _, a := range res.Actions {
		fmt.Fprintf(&b, "action %s: priority %d, due %s, payload %#v\n", a.Name, a.Priority, renderTime(a.Due), a.Payload)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(&b, "error: customer %s: %s: %s\n", e.Key, e.Rule, e.Message())
	}
	if res.Left {
		b.WriteString("left the facts source\n")
	}
	return b.String()
}

func renderTime(t time.Time) string {
	return t.Format(time.RFC3339Nano) + " " + t.Location().String()
}

func renderCustomer(c *engine.Customer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s absent %v facts %#v segments [", c.Key, c.Absent, c.Facts)
	for _, a := range c.State.Segments {
		fmt.Fprintf(&b, "{%q since %s pending %s}", a.Segment, renderTime(a.Since), renderTime(a.PendingSince))
	}
	b.WriteString("] last actions [")
	for _, at := range c.State.LastActions {
		b.WriteString(renderTime(at) + "; ")
	}
	b.WriteString("]")
	return b.String()
}

// fuzzInput decodes fuzz bytes into engine inputs; past its end every
// byte reads as 0.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzInput) uint64() uint64 {
	var x uint64
	for range 8 {
		x = x<<8 | uint64(in.byte())
	}
	return x
}

func (in *fuzzInput) int16() int16 { return int16(uint16(in.byte())<<8 | uint16(in.byte())) }

// diffAsOf is the as-of most inputs evaluate at.
var diffAsOf = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

func (in *fuzzInput) asOf() time.Time {
	switch c := in.byte(); c % 4 {
	case 1:
		return diffAsOf.Add(time.Duration(in.int16()) * time.Hour)
	case 2:
		return diffAsOf.In(time.FixedZone("UTC+8", 8*3600))
	case 3:
		return diffAsOf.AddDate(0, 0, int(in.int16()))
	}
	return diffAsOf
}

func (in *fuzzInput) customer(s *diffSet, key string, asOf time.Time) *engine.Customer {
	c := &engine.Customer{Key: key}
	fields := s.rs.Facts.Fields
	n := len(fields)
	if b := in.byte(); b >= 240 {
		n = int(b) % (n + 1) // fewer facts: the others are null
	}
	c.Facts = make([]any, n)
	for i := range c.Facts {
		c.Facts[i] = in.value(s, fields[i], asOf)
	}
	rs := s.rs
	if b := in.byte(); b%4 != 0 {
		n := len(rs.Segmentations)
		if b >= 200 {
			n = int(b) % (n + 1)
		}
		c.State.Segments = make([]engine.Assignment, n)
		for i := range c.State.Segments {
			segs := rs.Segmentations[i].Segments
			var name string
			switch k := int(in.byte()) % (len(segs) + 2); {
			case k < len(segs):
				name = segs[k].Name
			case k == len(segs)+1:
				name = "retired" // a segment the rules no longer define
			}
			c.State.Segments[i] = engine.Assignment{Segment: name, Since: in.maybeTime(asOf), PendingSince: in.maybeTime(asOf)}
		}
	}
	if b := in.byte(); b%4 != 0 && len(rs.Actions) > 0 {
		n := len(rs.Actions)
		if b >= 200 {
			n = int(b) % (n + 1)
		}
		c.State.LastActions = make([]time.Time, n)
		for i := range c.State.LastActions {
			c.State.LastActions[i] = in.maybeTime(asOf)
		}
	}
	if rs.Exits() {
		c.Absent = in.byte()%4 == 0
	}
	return c
}

var specialNumbers = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.5, math.NaN(), math.Inf(1), math.Inf(-1),
	math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e15, 1 << 53, 1e300,
}

var specialInts = []int{0, 1, -1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 50, 65, 80, 100, math.MaxInt, math.MinInt, 1 << 53}

// value decodes one fact of f's type, or null for a nullable fact.
func (in *fuzzInput) value(s *diffSet, f rules.Field, asOf time.Time) any {
	c := in.byte()
	if f.Nullable && c%8 == 7 {
		return nil
	}
	sel := c / 8
	switch f.Type {
	case rules.TypeNumber:
		switch sel % 5 {
		case 0:
			return specialNumbers[int(in.byte())%len(specialNumbers)]
		case 1:
			return math.Float64frombits(in.uint64())
		case 2:
			return float64(in.int16()) / 4
		case 3:
			return float64(in.int16()) * 1000
		}
		if len(s.numberHints) > 0 {
			return s.numberHints[int(in.byte())%len(s.numberHints)]
		}
		return float64(in.byte())
	case rules.TypeInteger:
		switch sel % 4 {
		case 0:
			return specialInts[int(in.byte())%len(specialInts)]
		case 1:
			return int(int64(in.uint64()))
		case 2:
			return int(in.int16())
		}
		return int(in.byte() % 16)
	case rules.TypeBool:
		return sel%2 == 1
	case rules.TypeTime:
		return in.time(asOf)
	case rules.TypeString:
		if sel%4 != 0 {
			return s.strings[int(in.byte())%len(s.strings)]
		}
		n := int(in.byte() % 12)
		b := make([]byte, n)
		for i := range b {
			b[i] = in.byte()
		}
		return string(b)
	}
	return nil
}

// time decodes a time around asOf, in UTC as rules.Field.Coerce returns
// times: days or hours away, far away, or the zero time.
func (in *fuzzInput) time(asOf time.Time) time.Time {
	base := asOf.UTC()
	switch c := in.byte(); c % 5 {
	case 0:
		return base.AddDate(0, 0, int(in.int16()))
	case 1:
		return base.Add(time.Duration(in.int16())*time.Hour + time.Duration(in.byte())*time.Second)
	case 2:
		return base.Add(time.Duration(int64(in.uint64())))
	case 3:
		return time.Time{}
	}
	return base.AddDate(0, 0, -int(in.byte()%8)*30) // about a month, two, ... ago
}

// maybeTime is the zero time (never) or a time around asOf.
func (in *fuzzInput) maybeTime(asOf time.Time) time.Time {
	if in.byte()%3 == 0 {
		return time.Time{}
	}
	return in.time(asOf)
}
