package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/rules"
)

const genUsage = `
Usage: tierflow gen [flags]

Generates realistic, synthetic customer facts for demos, tests and
benchmarks: a long tail of spend, seasonality, regions and channels, and
customers whose spending drops or stops, so every segment and action of
the example rule sets has customers to move. The same flags always give
the same customers. docs/demo-data.md describes the distributions.

--kind retail gives the facts of examples/retail (customer_id, spend_12m,
spend_prev_12m, orders_12m, first_order_at, last_order_at, channel,
region); --kind orders the orders of those same customers (order_id,
customer_id, ordered_at, amount), which sum to them: the transactions of
examples/retail/retail_orders.yaml; --kind b2b the facts of examples/b2b
(key_accounts and churn_signals).

The facts go to stdout or --out as CSV or JSON Lines, which plan --facts
reads; or, with --postgres-table, into a table of the configured
PostgreSQL database (the URL comes from $TIERFLOW_DATABASE_URL or the
config's url_file), created with typed columns and loaded with COPY in
one transaction. Loading again replaces a table that gen created, never
any other.

--months N takes the snapshot N months after --as-of: the same customers,
with the orders they placed (or did not) in between, and the customers
who arrived meanwhile. Load month 0, apply, load month 1, apply: the
second apply shows customers moving and actions firing.

Examples:
  tierflow gen --customers 100000 --seed 42 --as-of 2024-07-01 > facts.csv
  tierflow gen --format jsonl --out facts.jsonl
  tierflow gen --kind b2b --customers 5000 --out accounts.csv
  tierflow gen --customers 1000000 --as-of 2024-07-01 --postgres-table customer_facts
  tierflow gen --customers 1000000 --as-of 2024-07-01 --months 1 --postgres-table customer_facts
  tierflow gen --customers 2000 --out facts.csv && tierflow plan --facts facts.csv examples/retail
  tierflow gen --kind orders --customers 100000 --as-of 2024-07-01 --postgres-table orders
`

// genKinds are the populations gen can make.
var genKinds = map[string]func(gen.Config) (gen.Rows, error){
	"retail": func(c gen.Config) (gen.Rows, error) { return gen.Retail(c) },
	"orders": func(c gen.Config) (gen.Rows, error) { return gen.RetailOrders(c) },
	"b2b":    func(c gen.Config) (gen.Rows, error) { return gen.KeyAccounts(c) },
}

// genNoun is what gen's summary counts for a kind: one row a customer,
// or, for orders, one row an order.
func genNoun(kind string) string {
	if kind == "orders" {
		return "orders of the retail customers"
	}
	return kind + " customers"
}

// genOptions are gen's flags.
type genOptions struct {
	kind, format, out, table, asOf, config string
	cfg                                    gen.Config
}

func runGen(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("gen", genUsage)
	var o genOptions
	fs.IntVar(&o.cfg.Customers, "customers", 10000, "how many customers exist at --as-of (1,000 to 10,000,000 is the designed range)")
	fs.Int64Var(&o.cfg.Seed, "seed", 1, "picks the population: the same seed and flags give the same customers")
	fs.StringVar(&o.asOf, "as-of", "", "the `date` the facts are taken at (default today, UTC)")
	fs.IntVar(&o.cfg.Months, "months", 0, "take the snapshot this many months after --as-of: the same customers, later")
	fs.IntVar(&o.cfg.Years, "years", 0, "history before --as-of over which first orders are spread (default 5 for retail, 12 for b2b)")
	fs.StringVar(&o.kind, "kind", "retail", "population: retail, orders (the retail customers' orders) or b2b")
	fs.StringVar(&o.format, "format", "", "csv or jsonl (default: from --out's extension, else csv)")
	fs.StringVar(&o.out, "out", "", "write to this `file` instead of stdout")
	fs.StringVar(&o.table, "postgres-table", "", "load into this `table` (or schema.table) of the configured PostgreSQL database instead")
	fs.StringVar(&o.config, "config", "", "config `file` (default ./tierflow.yaml), for --postgres-table")
	positional, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	if len(positional) > 0 {
		return a.errorf("gen: unexpected argument %q (gen takes flags only; see tierflow gen --help)", positional[0])
	}
	src, err := a.genSource(&o)
	if err != nil {
		return a.errorf("gen: %v", err)
	}
	start := a.now()
	p := a.newProgress("gen")
	rows := &counted{Rows: src, p: p}
	var n int64
	var where string
	if o.table != "" {
		n, where, err = a.genLoad(ctx, &o, rows)
	} else {
		n, where, err = a.genWrite(&o, rows)
	}
	p.finish()
	if err != nil {
		return a.errorf("gen: %v", err)
	}
	fmt.Fprintf(a.stderr, "tierflow gen: %s %s as of %s (seed %d) %s in %s\n", thousands(int(n)), genNoun(o.kind),
		o.cfg.SnapshotAt().Format(time.DateOnly), o.cfg.Seed, where, a.now().Sub(start).Round(time.Millisecond))
	return exitOK
}

// genSource checks the flags and makes the generator.
func (a *app) genSource(o *genOptions) (gen.Rows, error) {
	newRows, ok := genKinds[o.kind]
	if !ok {
		return nil, fmt.Errorf("--kind %q: use retail, orders or b2b", o.kind)
	}
	if o.format == "" {
		o.format = "csv"
		if ext := strings.ToLower(filepath.Ext(o.out)); ext == ".jsonl" || ext == ".ndjson" {
			o.format = "jsonl"
		}
	}
	if o.format != "csv" && o.format != "jsonl" {
		return nil, fmt.Errorf("--format %q: use csv or jsonl", o.format)
	}
	if o.table != "" && o.out != "" {
		return nil, fmt.Errorf("--out and --postgres-table: choose one")
	}
	o.cfg.AsOf = a.now().UTC().Truncate(24 * time.Hour)
	if o.asOf != "" {
		t, err := rules.ParseTime(o.asOf)
		if err != nil {
			return nil, fmt.Errorf("--as-of: %v", err)
		}
		o.cfg.AsOf = t
	}
	if err := o.cfg.Validate(); err != nil {
		return nil, flagNames(err)
	}
	return newRows(o.cfg)
}

// flagNames turns the config's field names into gen's flags.
func flagNames(err error) error {
	msg := err.Error()
	for _, f := range []string{"customers", "as-of", "years", "months"} {
		msg = strings.ReplaceAll(msg, f+":", "--"+f+":")
	}
	return fmt.Errorf("%s", strings.ReplaceAll(msg, "\n", "; "))
}

// genWrite writes the rows to --out or stdout.
func (a *app) genWrite(o *genOptions, rows gen.Rows) (n int64, where string, err error) {
	var w io.Writer = a.stdout
	where = "written to stdout"
	if o.out != "" {
		// Write beside the file and rename at the end, so that a run
		// reading the file never sees half of it, and a failed gen leaves
		// the old file in place.
		tmp := o.out + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			return 0, "", err
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp, o.out)
			}
			if err != nil {
				os.Remove(tmp)
			}
		}()
		w, where = f, "written to "+o.out
	}
	write := gen.WriteCSV
	if o.format == "jsonl" {
		write = gen.WriteJSONL
	}
	n, err = write(w, rows)
	return n, where, err
}

// genLoad loads the rows into the configured database.
func (a *app) genLoad(ctx context.Context, o *genOptions, rows gen.Rows) (int64, string, error) {
	cfg, err := loadConfig(o.config)
	if err != nil {
		return 0, "", err
	}
	url, err := cfg.databaseURL(a.getenv)
	if err != nil {
		return 0, "", err
	}
	n, err := loadGenerated(ctx, url, o.table, rows)
	if err != nil {
		return n, "", err
	}
	return n, "loaded into table " + o.table, nil
}

// counted reports progress as rows are generated.
type counted struct {
	gen.Rows
	p    *progress
	done int64
}

func (c *counted) NextRow(row []gen.Value) bool {
	if !c.Rows.NextRow(row) {
		return false
	}
	if c.done++; c.done%8192 == 0 {
		c.p.update(c.done, c.Rows.Len())
	}
	return true
}
