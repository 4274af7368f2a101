package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// The documented hash: the first four bytes of MD5, big-endian, modulo
// N. md5("abc") starts 90 01 50 98 = 2416005272.
func TestShardOf(t *testing.T) {
	for _, c := range []struct {
		key  string
		n    int
		want int
	}{{"abc", 4, 2416005272 % 4}, {"abc", 7, 2416005272 % 7}, {"abc", 1, 0}, {"", 1024, 0xd41d8cd9 % 1024}} {
		if got := ShardOf(c.key, c.n); got != c.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", c.key, c.n, got, c.want)
		}
	}
	sh := Shard{Index: 2416005272 % 4, Count: 4}
	if !sh.Contains("abc") || (Shard{Index: 1, Count: 4}).Contains("abc") || !(Shard{}).Contains("abc") {
		t.Error("Contains disagrees with ShardOf")
	}
}

func TestParseShard(t *testing.T) {
	for in, want := range map[string]string{"0/1": "0/1", " 3/4 ": "3/4", "1023/1024": "1023/1024"} {
		sh, err := ParseShard(in)
		if err != nil || sh.String() != want {
			t.Errorf("ParseShard(%q) = %v, %v; want %s", in, sh, err, want)
		}
	}
	for in, want := range map[string]string{"": "give INDEX/COUNT", "3": "give INDEX/COUNT", "x/4": "whole numbers", "-1/4": "INDEX must be 0 to 3",
		"4/4": "INDEX must be 0 to 3", "0/0": "COUNT must be 1 to 1024", "0/1025": "COUNT must be 1 to 1024"} {
		if _, err := ParseShard(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseShard(%q): %v; want an error saying %q", in, err, want)
		}
	}
}

// A run builds on marks left by the same customers' runs only; a shard
// after an unsharded run or a parent does, the others evaluate everyone.
func TestShardFullReason(t *testing.T) {
	sh := Shard{Index: 1, Count: 4}
	for _, c := range []struct {
		prev *PreviousRun
		sh   Shard
		want string
	}{
		{nil, sh, ""},
		{&PreviousRun{ID: 3}, sh, ""},
		{&PreviousRun{ID: 3, Shard: "1/4"}, sh, ""},
		{&PreviousRun{ID: 3, Shard: "0/2"}, sh, "run 3) was shard 0/2 of another split"},
		{&PreviousRun{ID: 3, Shard: "2/4"}, Shard{}, "(run 3) evaluated shard 2/4 only"},
	} {
		got := shardFullReason(c.prev, c.sh)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("shardFullReason(%+v, %s) = %q, want %q", c.prev, c.sh, got, c.want)
		}
	}
	if p := (&PreviousRun{Shard: "2/4"}).sameShard(Shard{}); p != nil {
		t.Error("an unsharded run compares its population with a shard's")
	}
}

// The whole run's totals are judged by the guard's limits: each shard
// within them can add up to a run over them.
func TestGuardTotals(t *testing.T) {
	g := Guard{MaxMovedShare: 0.2, MaxActions: 100, MaxShrinkShare: 0.25}
	ok := RunTotals{Shards: 4, Customers: 1000, Changed: 200, Actions: 100, Previous: &PreviousRun{ID: 9, Customers: 1300}}
	if r := g.totals(ok); len(r) != 0 {
		t.Fatalf("totals at the limits: %v", r)
	}
	over := RunTotals{Shards: 4, Customers: 700, Changed: 201, Actions: 101, Previous: &PreviousRun{ID: 9, Customers: 1000}}
	r := strings.Join(g.totals(over), "\n")
	for _, want := range []string{"30.0% fewer than the 1,000 of the last successful run (run 9)", "201 of 700 customers (28.7%) changed segment in the 4 shards together",
		"the 4 shards together queued 101 actions, more than the limit of 100"} {
		if !strings.Contains(r, want) {
			t.Errorf("totals over the limits: %s\nwant %q", r, want)
		}
	}
	over.Initial = true
	if r := strings.Join(g.totals(over), "\n"); strings.Contains(r, "changed segment") {
		t.Errorf("a first run's moves are limited: %s", r)
	}
	g.AllowLarge = true
	if r := g.totals(over); len(r) != 0 {
		t.Errorf("--allow-large-change: %v", r)
	}
}

// A store that cannot keep sharded runs refuses a shard before anything
// runs, as does a rule set with derived facts.
func TestApplyShardRefused(t *testing.T) {
	rs, err := rules.Compile("tiny.yaml", []byte(tinyRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Apply(context.Background(), NoState{}, nil, rs, Options{Shard: Shard{Index: 0, Count: 2}})
	if !errors.Is(err, ErrNoShards) || out != nil {
		t.Fatalf("a shard on a store without ShardStore: %v, %v; want ErrNoShards", out, err)
	}
}
