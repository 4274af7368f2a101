package jobs

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// A sharded apply (Options.Shard) splits a rule set's customers across
// processes, each on its own machine: shard I of N evaluates and writes
// the customers whose key hashes to I, in a transaction of its own, with
// a run record of its own under a parent run that is complete when every
// shard has committed.
//
// The hash is stable and documented (docs/operations.md#sharded-runs), so
// that a database can compute it too: the first four bytes of the MD5
// digest of the key's UTF-8 bytes, read as a big-endian unsigned 32-bit
// integer, modulo N. In PostgreSQL that is
//
//	('x' || substr(md5(key), 1, 8))::bit(32)::bigint % N
//
// MD5 serves here as a spread, not as a protection: anyone may compute
// which shard a key is in.

// MaxShards is the largest number of shards a run may be split into.
const MaxShards = 1024

// Shard is one part of a sharded run: Index of Count. The zero Shard is
// an unsharded run.
type Shard struct {
	Index int
	Count int
}

// IsZero reports whether s is the unsharded run.
func (s Shard) IsZero() bool { return s.Count == 0 }

// String is s as --shard takes it: "2/4"; "" for the unsharded run.
func (s Shard) String() string {
	if s.IsZero() {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// Contains reports whether the customer with key is in s; every customer
// is in the unsharded run.
func (s Shard) Contains(key string) bool {
	return s.IsZero() || ShardOf(key, s.Count) == s.Index
}

// ShardOf is the shard of n that key hashes to (see Shard).
func ShardOf(key string, n int) int {
	sum := md5.Sum([]byte(key))
	return int(binary.BigEndian.Uint32(sum[:4]) % uint32(n))
}

// ParseShard reads a shard as --shard gives it: "I/N", with 0 <= I < N
// and 1 <= N <= MaxShards.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q is not a shard: give INDEX/COUNT, such as 0/4 for the first of four (Kubernetes: $(JOB_COMPLETION_INDEX)/4)", s)
	}
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	switch {
	case err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("%q is not a shard: INDEX and COUNT are whole numbers, such as 0/4", s)
	case count < 1 || count > MaxShards:
		return Shard{}, fmt.Errorf("shard %q: COUNT must be 1 to %d", s, MaxShards)
	case index < 0 || index >= count:
		return Shard{}, fmt.Errorf("shard %q: INDEX must be 0 to %d (shards are numbered from 0, as JOB_COMPLETION_INDEX is)", s, count-1)
	}
	return Shard{Index: index, Count: count}, nil
}

// ErrNoShards is returned by a sharded apply on a state store that cannot
// keep sharded runs (it does not implement ShardStore).
var ErrNoShards = errors.New("this state store cannot run sharded applies: --shard needs the PostgreSQL store, which lets several processes write at once")

// ShardStore is implemented by state stores that can keep sharded runs:
// BeginApply of a RunInfo with a Shard takes the rule set's lock shared
// and the shard's exclusively, and Commit, serialised with the other
// shards' commits, completes the parent run when it is the last shard
// (RunSummary.CheckTotals).
type ShardStore interface {
	// LastSucceededShard returns the most recent succeeded run whose
	// writes a run of shard sh builds on: an unsharded run, a complete
	// parent run, a run of the same shard, or a run of a shard of another
	// split (whose PreviousRun.Shard then says so). ok is false when
	// there is none.
	LastSucceededShard(ctx context.Context, ruleset string, sh Shard) (last PreviousRun, ok bool, err error)
	// ShardParent returns the parent run of the shard run id, and whether
	// the rule set had no state when the parent began (its first run,
	// for every shard alike).
	ShardParent(ctx context.Context, id int64) (parent int64, initial bool, err error)
}

// RunTotals are what the shards of a complete sharded run did in all,
// as the last shard to commit reads them for the guard.
type RunTotals struct {
	Parent    int64
	Shards    int
	Customers int64
	Changed   int64
	Actions   int64
	Errors    int64
	// Initial is the parent's: the rule set had no state when it began.
	Initial bool
	// Previous is the last complete run before the parent (unsharded, or
	// a parent); nil when there is none.
	Previous *PreviousRun
}

// Sharded tells OpenSnapshot that it feeds shard sh of a sharded run:
// it keeps that shard's customers only (narrowed in the database where
// the state store can: ShardJoiner), and its Initial is initial, the
// parent run's, so that every shard of a first run treats it as one.
func Sharded(sh Shard, initial bool) SnapshotOption {
	return func(c *snapshotConfig) { c.shard, c.initial = sh, initial }
}

// errShardDerived refuses a sharded snapshot of a rule set with derived
// facts: population facts (percentiles, ranks) and fitted models need
// every customer, so a shard alone would derive other values.
func errShardDerived(rs *rules.RuleSet) error {
	return fmt.Errorf("rule set %s derives facts (derived: in the rule file), which a sharded run cannot: population facts and models read every customer; apply it without --shard", rs.Name)
}

// previousRunOf is previousRun for a run of shard sh: the last run whose
// writes it builds on (ShardStore.LastSucceededShard).
func previousRunOf(ctx context.Context, state StateStore, rs *rules.RuleSet, sh Shard) (*PreviousRun, error) {
	if sh.IsZero() {
		return previousRun(ctx, state, rs)
	}
	last, ok, err := state.(ShardStore).LastSucceededShard(ctx, rs.Name, sh)
	if err != nil {
		return nil, fmt.Errorf("read the last successful run of %s: %w", rs.Name, err)
	}
	if !ok {
		return nil, nil
	}
	return &last, nil
}

// sameShard is p when it evaluated the customers a run of shard sh does
// (its customer and row counts compare with the run's), else nil.
func (p *PreviousRun) sameShard(sh Shard) *PreviousRun {
	if p == nil || p.Shard != sh.String() {
		return nil
	}
	return p
}

// shardFullReason says why a run of shard sh must evaluate everyone when
// its previous run prev evaluated other customers than it does: the
// marks of some of its customers were left by another run, which may
// have had other rules or a later as-of. "" when prev is of the same
// customers, or of everyone.
func shardFullReason(prev *PreviousRun, sh Shard) string {
	switch {
	case prev == nil || prev.Shard == "" || prev.Shard == sh.String():
		return ""
	case sh.IsZero():
		return fmt.Sprintf("the last successful run (run %d) evaluated shard %s only", prev.ID, prev.Shard)
	}
	return fmt.Sprintf("the last successful run of these customers (run %d) was shard %s of another split", prev.ID, prev.Shard)
}

// totals judges a complete sharded run by its shards' totals: what is
// over the guard's limits for the whole run (max_moved, max_actions,
// max_shrink against the last complete run), whose shards, each within
// the limits, have committed. The reasons flag the parent run.
func (g Guard) totals(t RunTotals) []string {
	if g.AllowLarge {
		return nil
	}
	var reasons []string
	if reason := g.shrunk(int(t.Customers), t.Previous); reason != "" {
		reasons = append(reasons, reason)
	}
	if g.MaxMovedShare > 0 && !t.Initial && t.Customers > 0 {
		if share := float64(t.Changed) / float64(t.Customers); share > g.MaxMovedShare {
			reasons = append(reasons, fmt.Sprintf("%d of %d customers (%.1f%%) changed segment in the %d shards together, more than the limit of %.1f%%",
				t.Changed, t.Customers, share*100, t.Shards, g.MaxMovedShare*100))
		}
	}
	if g.MaxActions > 0 && t.Actions > int64(g.MaxActions) {
		reasons = append(reasons, fmt.Sprintf("the %d shards together queued %d actions, more than the limit of %d", t.Shards, t.Actions, g.MaxActions))
	}
	return reasons
}
