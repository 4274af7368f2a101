package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const initUsage = `
Usage: tierflow init [DIR]

Starts a tierflow project in DIR (default: the current directory):

  tierflow.yaml                 the config: database, rule sets and their
                                facts sources, guards, the service
  rules/customers.yaml          a small starter rule set: value tiers, a
                                lifecycle, a welcome action, a nightly schedule
  rules/customers_test.yaml     its test cases, covering every rule

Every file is commented. init never overwrites: if any of the files
exists it writes nothing and says which.

Examples:
  tierflow init                  # here
  tierflow init crm-segments     # in a new directory
`

// scaffold is one file init writes.
type scaffold struct {
	path    string // relative to the project directory
	what    string
	content string
}

var scaffolds = []scaffold{
	{"tierflow.yaml", "the config: database, rule sets, guards, service", initConfig},
	{filepath.Join("rules", "customers.yaml"), "a starter rule set: value tiers, lifecycle, one action", initRules},
	{filepath.Join("rules", "customers_test.yaml"), "its test cases", initTests},
}

func runInit(_ context.Context, a *app, args []string) int {
	fs := a.flagSet("init", initUsage)
	paths, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	if len(paths) > 1 {
		return a.errorf("init: name one directory (got %s)", strings.Join(paths, " "))
	}
	dir := "."
	if len(paths) == 1 {
		dir = paths[0]
	}
	if err := checkFree(dir); err != nil {
		return a.errorf("init: %v", err)
	}
	for _, s := range scaffolds {
		if err := writeNew(filepath.Join(dir, s.path), s.content); err != nil {
			return a.errorf("init: %v", err)
		}
	}
	fmt.Fprintf(a.stdout, "Created a tierflow project in %s:\n", dir)
	for _, s := range scaffolds {
		fmt.Fprintf(a.stdout, "  %-28s %s\n", s.path, s.what)
	}
	fmt.Fprint(a.stdout, "\nNext steps:\n")
	if dir != "." {
		fmt.Fprintf(a.stdout, "  cd %s\n", dir)
	}
	fmt.Fprint(a.stdout, initNext)
	return exitOK
}

const initNext = `  tierflow check rules/                         validate the rule files
  tierflow test rules/                          run their test cases
  tierflow gen --customers 20000 --out facts.csv   demo facts, in the file the config reads
  tierflow migrate                              create tierflow's state (tierflow.db)
  tierflow plan                                 what a first run would do
  tierflow apply                                assign every customer

Then edit rules/customers.yaml (params first), point the source in
tierflow.yaml at your customer facts, and run tierflow plan.
`

// checkFree fails, naming every one, if any scaffold file exists.
func checkFree(dir string) error {
	var taken []string
	for _, s := range scaffolds {
		_, err := os.Lstat(filepath.Join(dir, s.path))
		switch {
		case err == nil:
			taken = append(taken, s.path)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("%s already has %s; nothing was written (move them away, or init another directory)", dir, strings.Join(taken, ", "))
	}
	return nil
}

// writeNew creates a file, and its directory, failing if it exists.
func writeNew(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

const initConfig = `# tierflow.yaml: which rule sets run, where their facts come from, and
# the limits that stop a bad run. tierflow reads ./tierflow.yaml, or the
# file --config names; relative paths start from this file's directory.
# There are no secrets in it: see database below.

database:
  # Where tierflow keeps its state: current segments, their history, the
  # action queue and a record of every run.
  #
  # PostgreSQL: the URL comes from the environment variable
  # TIERFLOW_DATABASE_URL, or from a file such as a mounted secret, never
  # from this file or a command-line flag:
  #
  #   export TIERFLOW_DATABASE_URL='postgres://tierflow@db.internal/crm'
  #
  # url_env: TIERFLOW_DATABASE_URL       # read the URL from another variable
  # url_file: /run/secrets/tierflow-db   # or from a file (not both)
  # schema: tierflow                     # the schema of tierflow's own tables
  #
  # Without a URL, tierflow uses its embedded store: one local SQLite
  # file, no database server. It suits a first try and small customer
  # bases; move to PostgreSQL for production.

# Other databases facts can be read from, by name (state stays above):
# databases:
#   warehouse:
#     driver: postgres              # or sqlite, with path: FILE
#     url_env: WAREHOUSE_URL        # or url_file: /run/secrets/warehouse

rulesets:
  - rules: rules/customers.yaml
    # The facts source: one row per customer, with the key column
    # (customer_id) and a column for each fact the rules read. Here a CSV
    # export (a glob such as exports/customers-*.csv.gz works too); make
    # demo facts with these columns with
    #   tierflow gen --customers 20000 --out facts.csv
    source:
      file: facts.csv
      # Checks on the load (tierflow check --data runs them alone; a
      # failed one refuses the apply): the fewest rows a good export has,
      # how much the row count may change from the last run, how old the
      # newest file may be. A key returned twice refuses the run unless
      # on_duplicate says first or last. docs/data-quality.md
      # min_rows: 1000
      # max_row_change: 20%
      # fresh_within: 2d
    # Or a SQL query (or a table or view name) on the state database:
    #   source: |
    #     SELECT customer_id, spend_12m, first_order_at, last_order_at
    #     FROM customer_facts
    # Or a query on another database, declared under databases:
    #   source: {database: warehouse, query: "SELECT ..."}
    # Or several sources merged on the key, the first the primary one
    # (instead of source:; docs/data-quality.md):
    #   sources:
    #     - {file: facts.csv}
    #     - {name: consent, file: consent.csv, facts: [marketing_consent]}
    # The first run only assigns segments; set this to queue the actions
    # that first run would fire too.
    initial_actions: false

# Guards stop an apply (writing nothing) that would change too much at
# once, which usually means a broken facts load. Override them per rule
# set with a guard: block under its rulesets entry.
guard:
  max_moved: 20%          # customers changing segment in one run
  max_actions: 100000     # actions queued in one run
  max_error_rate: 1%      # customers whose facts make a rule fail
  max_shrink: 25%         # fewer customers than the last successful run

# tierflow serve: runs each rule set on its schedule, as a service.
serve:
  listen: 127.0.0.1:9090  # /healthz, /readyz and /metrics
  starting_deadline: 1h   # how late a missed run may still start
  shutdown_timeout: 30s   # how long a stop waits for a running apply
`

const initRules = `# customers.yaml: a starter rule set. Each customer gets a value tier
# from its 12-month spend and a lifecycle stage from its order dates, and
# new customers get a welcome message. Change the params first: that is
# where the thresholds live. docs/rules.md documents every key, and
# examples/ has complete rule sets to copy from.
ruleset: customers
label: 客户分群
description: Value tiers by 12-month spend and a lifecycle, with a welcome message for new customers.

# tierflow serve runs the rule set at these times: every night at 02:00.
schedule:
  cron: "0 2 * * *"       # minute hour day-of-month month day-of-week
  timezone: Asia/Shanghai

params:
  key_spend: 10000        # 12-month spend of a key customer
  regular_spend: 1000     # ... of a regular one; below it, small
  new_days: 90            # first order within this many days: new
  churn_days: 365         # no order for longer than this: churned

# The facts the rules read, one value per customer, from the source in
# tierflow.yaml. A ? after the type means the value may be null.
facts:
  spend_12m: number       # spend over the last 12 months
  first_order_at: time
  last_order_at: time?    # null for a customer who never ordered

# A segmentation puts every customer in exactly one of its segments: the
# first whose condition holds, top to bottom, else the fallback. The
# order is also the rank: the first segment is the highest.
segmentations:
  - name: value_tier
    label: 客户价值等级
    segments:
      - name: key
        label: 重点客户
        when: spend_12m >= params.key_spend
        downgrade_grace: 30d  # a key customer who dips below stays key for 30 days
      - name: regular
        label: 普通客户
        when: spend_12m >= params.regular_spend
      - name: small
        label: 小客户
        fallback: true

  - name: lifecycle
    label: 生命周期
    segments:
      - name: churned
        label: 已流失
        when: is_null(last_order_at) || days_since(last_order_at) > params.churn_days
      - name: new
        label: 新客户
        when: days_since(first_order_at) <= params.new_days
      - name: active
        label: 活跃客户
        fallback: true

# An action is a follow-up queued for a customer when its condition
# holds, at most once per cooldown. entered() holds on the run a customer
# moves into a segment.
actions:
  - name: welcome_message
    label: 新客欢迎
    when: entered("lifecycle", "new")
    cooldown: 365d
    priority: 5
    payload:
      template: welcome_series
      tier: =segment.value_tier   # = makes a value an expression
`

const initTests = `# Test cases for customers.yaml; run them with: tierflow test rules/
# Each case gives a customer's facts (those left out are zero, or null
# when nullable), optionally its segments before the run, and what the
# run must decide. tierflow test fails on a wrong answer, and
# --min-coverage fails when a segment or action no case reaches.
ruleset: customers
tests:
  - name: a big, recent spender is a key, active customer
    as_of: 2024-07-01
    facts: {spend_12m: 25000, first_order_at: 2021-03-01, last_order_at: 2024-06-20}
    previous: {value_tier: key, lifecycle: active}
    expect:
      segments: {value_tier: key, lifecycle: active}
      actions: []

  - name: spend between the thresholds is regular
    as_of: 2024-07-01
    facts: {spend_12m: 2500, first_order_at: 2022-01-10, last_order_at: 2024-05-01}
    expect:
      segments: {value_tier: regular, lifecycle: active}

  - name: a key customer who dips below keeps key during the 30-day grace
    as_of: 2024-07-01
    facts: {spend_12m: 8000, first_order_at: 2021-03-01, last_order_at: 2024-06-20}
    previous:
      value_tier: {segment: key, since: 2023-01-01, pending_since: 2024-06-15}
    expect:
      segments: {value_tier: key}

  - name: a first order makes a new customer and sends the welcome
    as_of: 2024-07-01
    facts: {spend_12m: 300, first_order_at: 2024-06-10, last_order_at: 2024-06-10}
    expect:
      segments: {value_tier: small, lifecycle: new}
      actions:
        - name: welcome_message
          payload: {template: welcome_series, tier: small}

  - name: the welcome is sent once, not on every run
    as_of: 2024-07-01
    facts: {spend_12m: 300, first_order_at: 2024-06-10, last_order_at: 2024-06-10}
    previous: {lifecycle: new}
    expect:
      segments: {lifecycle: new}
      actions: []

  - name: a year without orders is churn
    as_of: 2024-07-01
    facts: {spend_12m: 0, first_order_at: 2020-05-01, last_order_at: 2023-05-01}
    expect:
      segments: {value_tier: small, lifecycle: churned}

  - name: a customer who never ordered counts as churned
    as_of: 2024-07-01
    facts: {first_order_at: 2024-06-01, last_order_at: null}
    expect:
      segments: {lifecycle: churned}
      actions: []
`
