package engine_test

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// wakeSets are the rule sets the wake-up property is checked on: the
// examples, those of the other differential tests, and clockRules and
// careRules, which read time in every way and have every follow-up
// mechanism.
func wakeSets(t testing.TB) []*diffSet {
	t.Helper()
	sets := []*diffSet{{name: "retail", rs: loadRetail(t)}}
	paths, err := filepath.Glob("../examples/b2b/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.yaml") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := rules.Compile(path, src, rules.Options{})
		if err != nil {
			t.Fatalf("compile %s:\n%v", path, err)
		}
		sets = append(sets, &diffSet{name: rs.Name, rs: rs})
	}
	for _, x := range []struct{ name, src string }{
		{"errors", errorRules}, {"flags", flagRules}, {"leaving", leftRules}, {"clocks", clockRules}, {"care", careRules},
	} {
		sets = append(sets, &diffSet{name: x.name, rs: compile(t, x.src)})
	}
	for _, s := range sets {
		s.fast = engine.New(s.rs)
		s.strings = []string{"", "online", "store", "partner", "a", "abc"}
		s.numberHints = paramNumbers(s.rs)
	}
	return sets
}

// wakeCustomer decodes a customer as FuzzFastPathAgrees does, with date
// facts, and covering outcomes and contacts for rule sets that read them.
func wakeCustomer(s *diffSet, in *fuzzInput, key string, asOf time.Time) *engine.Customer {
	c := in.customer(s, key, asOf)
	for i, f := range s.rs.Facts.Fields {
		if f.Type == rules.TypeDate && i < len(c.Facts) {
			c.Facts[i] = nil
			if !f.Nullable || in.byte()%5 != 0 {
				c.Facts[i] = rules.DateIn(asOf, s.rs.Zone()).AddDate(0, 0, int(int8(in.byte()))*3)
			}
		}
	}
	if s.rs.HasCoverage() || s.rs.Limits != nil {
		for range in.byte() % 4 {
			a := s.rs.Actions[int(in.byte())%len(s.rs.Actions)]
			_, ai := s.rs.Action(a.Name)
			at := asOf.Add(time.Duration(int8(in.byte())) * 7 * time.Hour)
			if len(a.Outcomes) > 0 {
				c.State.Outcomes = append(c.State.Outcomes, engine.ActionOutcome{Action: ai, Outcome: a.Outcomes[int(in.byte())%len(a.Outcomes)], At: at})
			}
			c.State.Contacts = append(c.State.Contacts, engine.Contact{Action: ai, At: at.Add(-48 * time.Hour)})
		}
	}
	return c
}

// laterTimes picks the instants after from and before to at which a
// customer is evaluated again: just after, every day for a while, at
// random, and just before.
func laterTimes(r *rand.Rand) func(from, to time.Time) []time.Time {
	return func(from, to time.Time) []time.Time {
		span := to.Sub(from)
		if span <= 1 {
			return nil
		}
		out := []time.Time{from.Add(1), to.Add(-1)}
		for d := time.Duration(0); d < span && d < 40*24*time.Hour; d += 24 * time.Hour {
			out = append(out, from.Add(d+time.Duration(r.Int63n(int64(time.Hour)))))
		}
		for range 12 {
			out = append(out, from.Add(1+time.Duration(r.Int63n(int64(span-1)))))
		}
		var keep []time.Time
		for _, t := range out {
			if t.After(from) && t.Before(to) {
				keep = append(keep, t)
			}
		}
		return keep
	}
}

// TestWakeIsSound is the wake-up property: for customers of every rule
// set, at various as-ofs and zones, evaluating again with the state saved
// from an evaluation, at any instant before its Wake, is a no-op (no
// move, no since or pending date changed, no action queued, held out or
// suppressed, no rule error, the same coverage). It logs, per rule set,
// how many customers wake on every run, never, or at a finite time, and
// how often the evaluation at the wake-up really changes something.
func TestWakeIsSound(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(16))
	later := laterTimes(r)
	for _, s := range wakeSets(t) {
		var st wakeStats
		var pool []*engine.Customer
		if s.name == "retail" {
			pool = withFollowUps(s.rs, retailPool(s.rs, 600, 5))
		}
		for i := range 900 {
			b := make([]byte, 64+r.Intn(200))
			r.Read(b)
			in := &fuzzInput{b: b}
			asOf := in.asOf()
			c := wakeCustomer(s, in, fmt.Sprintf("c%d", i), asOf)
			if i < len(pool) {
				c, asOf = pool[i], retailAsOf
			}
			got, fail := checkWake(s.fast, c, asOf, later)
			if fail != "" {
				t.Fatalf("%s: %s", s.name, fail)
			}
			st.add(got)
		}
		if st.finite+st.never == 0 || st.checked == 0 {
			t.Errorf("%s: no customer had a wake-up to check: %v", s.name, st)
		}
		t.Logf("%s: %v", s.name, st)
	}
}
