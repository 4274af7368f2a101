package jobs

import (
	"context"
	"fmt"

	"github.com/tierflow/tierflow/engine"
)

// cursor turns a stream that pushes batches to a callback into one read
// an item at a time, so that several streams can be merged. The stream
// runs on its own goroutine, at most two batches ahead.
type cursor[T any] struct {
	ch     chan []T
	err    error // set before ch is closed
	cancel context.CancelFunc
	batch  []T
	i      int
}

func pull[T any](ctx context.Context, stream func(ctx context.Context, fn func([]T) error) error) *cursor[T] {
	ctx, cancel := context.WithCancel(ctx)
	c := &cursor[T]{ch: make(chan []T, 2), cancel: cancel}
	go func() {
		err := stream(ctx, func(b []T) error {
			// select picks at random when both are ready: once ctx is
			// done, take no more.
			if err := ctx.Err(); err != nil {
				return err
			}
			select {
			case c.ch <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		c.err = err
		close(c.ch)
	}()
	return c
}

// next returns the next item, or nil when the stream has ended (then Err
// says whether it failed). The item stays valid until the stream is
// closed: batches are never reused.
func (c *cursor[T]) next() *T {
	for c.i >= len(c.batch) {
		b, ok := <-c.ch
		if !ok {
			c.batch, c.i = nil, 0
			return nil
		}
		c.batch, c.i = b, 0
	}
	p := &c.batch[c.i]
	c.i++
	return p
}

// Err is the stream's error once next has returned nil.
func (c *cursor[T]) Err() error { return c.err }

// close stops the stream and waits for its goroutine to end.
func (c *cursor[T]) close() {
	c.cancel()
	for range c.ch {
	}
}

// custIter is a stage of the facts pipeline: customers one at a time.
type custIter interface {
	// next returns the next customer, or nil at the end or on failure.
	next() *engine.Customer
	// Err is the stage's error once next has returned nil.
	Err() error
	close()
}

// readerIter reads a facts reader (or a snapshot) through a cursor.
func readerIter(ctx context.Context, batchSize int, stream func(context.Context, int, func([]engine.Customer) error) error) custIter {
	return pull(ctx, func(ctx context.Context, fn func([]engine.Customer) error) error {
		return stream(ctx, batchSize, fn)
	})
}

// normalized rewrites each customer's key.
type normalized struct {
	custIter
	k KeyNormalization
}

func (n *normalized) next() *engine.Customer {
	c := n.custIter.next()
	if c != nil {
		c.Key = n.k.Apply(c.Key)
	}
	return c
}

// inOrder passes on a stream its source says is in key order, and fails
// when it is not: the merge and the duplicate check rely on it.
type inOrder struct {
	custIter
	source string
	prev   string
	seen   bool
	err    error
}

func (o *inOrder) next() *engine.Customer {
	if o.err != nil {
		return nil
	}
	c := o.custIter.next()
	if c == nil {
		return nil
	}
	if o.seen && c.Key < o.prev {
		o.err = fmt.Errorf("facts source %s returned customer %q after %q, out of key order: this is a bug in tierflow's reader for the source, please report it", o.source, c.Key, o.prev)
		return nil
	}
	o.prev, o.seen = c.Key, true
	return c
}

func (o *inOrder) Err() error {
	if o.err != nil {
		return o.err
	}
	return o.custIter.Err()
}

// deduped keeps one customer per key of an ordered stream, as the
// source's on_duplicate says, counting rows and duplicates into st.
type deduped struct {
	in     custIter
	policy string
	st     *SourceQuality
	held   *engine.Customer // the current key's kept row
	ahead  *engine.Customer // the next key's first row, read ahead
	ended  bool
}

func (d *deduped) next() *engine.Customer {
	if d.held == nil && !d.ended {
		d.held = d.in.next()
		if d.held != nil {
			d.st.Rows++
		}
	}
	for d.held != nil && !d.ended {
		c := d.in.next()
		if c == nil {
			d.ended = true
			break
		}
		d.st.Rows++
		if c.Key != d.held.Key {
			d.ahead = c
			break
		}
		d.st.Duplicates++
		if len(d.st.DuplicateKeys) < MaxDuplicateExamples && (len(d.st.DuplicateKeys) == 0 || d.st.DuplicateKeys[len(d.st.DuplicateKeys)-1] != c.Key) {
			d.st.DuplicateKeys = append(d.st.DuplicateKeys, c.Key)
		}
		if d.policy == OnDuplicateLast {
			d.held = c
		}
	}
	out := d.held
	d.held, d.ahead = d.ahead, nil
	if out != nil {
		d.st.Customers++
	}
	return out
}

func (d *deduped) Err() error { return d.in.Err() }
func (d *deduped) close()     { d.in.close() }

// duplicatesErr returns the refusal of a source whose on_duplicate is
// error and that returned duplicates, or nil.
func duplicatesErr(st *SourceQuality) error {
	if st.Duplicates == 0 || st.OnDuplicate != OnDuplicateError {
		return nil
	}
	return &DuplicateKeysError{Source: st.Name, Count: st.Duplicates, Keys: st.DuplicateKeys}
}
