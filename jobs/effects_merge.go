package jobs

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// errStopMoves ends the moves stream once every decision has been read.
var errStopMoves = errors.New("effects: no more moves needed")

// mergeCustomers reads the decisions q selects and the moves of their
// customers as of q.From, both in customer key order, and calls fn once per
// customer with decisions, with its decisions and its moves (nil when it
// has none). It holds one customer's rows at a time: fn must not keep
// the slices, which the next call reuses. Customers with moves but no
// decisions are skipped.
func mergeCustomers(ctx context.Context, src EffectsSource, q EffectsQuery, fn func(decs []ActionDecision, moves []HistoryMove)) error {
	mv := newMoveReader(ctx, src, q)
	defer mv.stop()
	var decs []ActionDecision
	flush := func() error {
		if len(decs) == 0 {
			return nil
		}
		moves, err := mv.customer(decs[0].Customer)
		if err != nil {
			return err
		}
		fn(decs, moves)
		decs = decs[:0]
		return nil
	}
	err := src.Decisions(ctx, q, func(d *ActionDecision) error {
		if n := len(decs); n > 0 && d.Customer != decs[n-1].Customer {
			if d.Customer < decs[n-1].Customer {
				return fmt.Errorf("decisions out of customer order: %q after %q", d.Customer, decs[n-1].Customer)
			}
			if err := flush(); err != nil {
				return err
			}
		}
		decs = append(decs, *d)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read decisions: %w", err)
	}
	return flush()
}

// moveReader pulls one customer's moves at a time from the moves stream,
// which runs as a coroutine of the decisions stream (iter.Pull): the
// two stay in step without buffering either.
type moveReader struct {
	next    func() (HistoryMove, bool)
	stop    func()
	err     error // the stream's error, once it has ended
	pending HistoryMove
	has     bool   // pending holds the next move
	last    string // the last customer read, for the order check
	buf     []HistoryMove
}

func newMoveReader(ctx context.Context, src EffectsSource, q EffectsQuery) *moveReader {
	r := &moveReader{}
	seq := func(yield func(HistoryMove) bool) {
		err := src.Moves(ctx, q, func(m *HistoryMove) error {
			if !yield(*m) {
				return errStopMoves
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopMoves) {
			r.err = fmt.Errorf("read moves: %w", err)
		}
	}
	r.next, r.stop = iter.Pull(seq)
	return r
}

// customer returns the moves of customer key, skipping those of
// customers before it; keys must come in ascending order.
func (r *moveReader) customer(key string) ([]HistoryMove, error) {
	r.buf = r.buf[:0]
	for {
		m, ok := r.peek()
		if !ok {
			return r.buf, r.err
		}
		if m.Customer > key {
			return r.buf, nil
		}
		if m.Customer == key {
			r.buf = append(r.buf, *m)
		}
		r.has = false
	}
}

// peek returns the next move without taking it.
func (r *moveReader) peek() (*HistoryMove, bool) {
	if r.has {
		return &r.pending, true
	}
	if r.err != nil {
		return nil, false
	}
	m, ok := r.next()
	if !ok {
		return nil, false
	}
	if m.Customer < r.last {
		r.err = fmt.Errorf("read moves: out of customer order: %q after %q", m.Customer, r.last)
		return nil, false
	}
	r.last, r.pending, r.has = m.Customer, m, true
	return &r.pending, true
}
