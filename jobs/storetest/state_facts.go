package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// memFacts is a facts source in memory: customer_facts rows as Customer
// values, converted to each rule set's facts schema when a pass opens.
// Its rows arrive in id order, or, once shuffle is called, in a new
// random order on every pass: a state store must match state to facts
// by key, not by position.
type memFacts struct {
	mu     sync.Mutex
	rows   map[int]Customer
	random *rand.Rand // nil: id order
}

var _ jobs.FactsSource = (*memFacts)(nil)

// newMemFacts holds generated customers 1 to n, as CreateFacts does.
func newMemFacts(n int) *memFacts {
	m := &memFacts{rows: map[int]Customer{}}
	for id := 1; id <= n; id++ {
		m.rows[id] = Generated(id)
	}
	return m
}

// shuffle makes every later pass read the rows in a new order drawn
// from seed.
func (m *memFacts) shuffle(seed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.random = rand.New(rand.NewPCG(seed, seed^0x5eed))
}

// put adds or replaces a customer's facts.
func (m *memFacts) put(c Customer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[c.ID] = c
}

// update changes every customer's facts with fn.
func (m *memFacts) update(fn func(c *Customer)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, c := range m.rows {
		fn(&c)
		m.rows[id] = c
	}
}

// shift is ShiftFacts on the rows in memory: every customer changes
// channel, every third customer's spend halves against last year, and
// every 50th is new.
func (m *memFacts) shift() {
	next := map[string]string{"online": "store", "store": "partner"}
	m.update(func(c *Customer) {
		if ch, ok := next[c.Channel]; ok {
			c.Channel = ch
		} else {
			c.Channel = "online"
		}
		if c.ID%3 == 0 {
			c.Prev = c.Spend * 3
		}
		if c.ID%50 == 1 {
			c.FirstOrder = "2024-06-20"
		}
	})
}

// zero sets every customer's spends and orders to zero: a broken load.
func (m *memFacts) zero() {
	m.update(func(c *Customer) { c.Spend, c.Prev, c.Orders = 0, 0, 0 })
}

// customer returns the facts of the customer with the given key.
func (m *memFacts) customer(key string) (Customer, bool) {
	id, err := strconv.Atoi(key)
	if err != nil {
		return Customer{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.rows[id]
	return c, ok
}

// keys returns the customer keys, in id order.
func (m *memFacts) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]int, 0, len(m.rows))
	for id := range m.rows {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Itoa(id)
	}
	return out
}

// OpenFacts converts the rows as they are now to rs's facts schema.
func (m *memFacts) OpenFacts(ctx context.Context, rs *rules.RuleSet) (jobs.FactsReader, error) {
	m.mu.Lock()
	rows := make([]Customer, 0, len(m.rows))
	for _, c := range m.rows {
		rows = append(rows, c)
	}
	slices.SortFunc(rows, func(a, b Customer) int { return a.ID - b.ID })
	if m.random != nil {
		m.random.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	}
	m.mu.Unlock()
	out := make([]engine.Customer, len(rows))
	for i, c := range rows {
		facts, err := c.facts(rs.Facts)
		if err != nil {
			return nil, fmt.Errorf("customer %d: %w", c.ID, err)
		}
		out[i] = engine.Customer{Key: strconv.Itoa(c.ID), Facts: facts}
	}
	return &memReader{rows: out}, ctx.Err()
}

// facts returns the customer's facts in the schema's order and types.
func (c Customer) facts(schema *rules.Schema) ([]any, error) {
	var last any
	if c.LastOrder != "" {
		last = c.LastOrder
	}
	named := map[string]any{"spend_12m": c.Spend, "spend_prev_12m": c.Prev, "orders_12m": c.Orders,
		"first_order_at": c.FirstOrder, "last_order_at": last, "channel": c.Channel}
	row := make([]any, len(schema.Fields))
	for i, f := range schema.Fields {
		v, ok := named[f.Name]
		if !ok {
			return nil, fmt.Errorf("customer_facts has no column %q", f.Name)
		}
		var err error
		if row[i], err = f.Coerce(v); err != nil {
			return nil, err
		}
	}
	return row, nil
}

// memReader is one pass over memFacts' rows.
type memReader struct{ rows []engine.Customer }

func (r *memReader) Count(context.Context) (int64, error) { return int64(len(r.rows)), nil }
func (r *memReader) Close() error                         { return nil }

// Stream passes the rows in batches of their own.
func (r *memReader) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	if batchSize <= 0 {
		batchSize = 1000
	}
	for from := 0; from < len(r.rows); from += batchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := slices.Clone(r.rows[from:min(from+batchSize, len(r.rows))])
		if err := fn(batch); err != nil {
			return err
		}
	}
	return nil
}
