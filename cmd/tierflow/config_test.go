package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// configErrors parses src as tierflow.yaml, which must fail, and returns
// the diagnostics.
func configErrors(t *testing.T, src string) rules.ErrorList {
	t.Helper()
	cfg, err := parseConfig("tierflow.yaml", []byte(src))
	if err == nil {
		t.Fatalf("parseConfig succeeded with %+v; want errors", cfg)
	}
	var list rules.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("parseConfig returned %T, not a rules.ErrorList: %v", err, err)
	}
	return list
}

// TestConfigErrors checks the exact text of tierflow.yaml's diagnostics,
// positions, caret snippets and hints included, as tierflow check prints
// rule files' diagnostics.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{
			name: "unknown key, did you mean",
			src: `database:
  path: tierflow.db
gaurd:
  max_moved: 10%
`,
			want: `tierflow.yaml:3:1: gaurd: unknown key "gaurd" (did you mean "guard"?)
   3 | gaurd:
     | ^`,
		},
		{
			name: "unknown key, one of",
			src: `owner: marketing
`,
			want: `tierflow.yaml:1:1: owner: unknown key "owner" (expected one of: database, databases, delivery, destinations, guard, rulesets, serve)
   1 | owner: marketing
     | ^`,
		},
		{
			name: "unknown keys at every level",
			src: `database:
  url_envv: DB
databases:
  warehouse: {driver: postgres, url_env: WH, schema: x}
serve:
  listn: 0.0.0.0:9090
rulesets:
  - rules: a.yaml
    sorce: customer_facts
    guard: {max_action: 5}
  - rules: b.yaml
    source: {tabel: customer_facts}
`,
			want: `tierflow.yaml:2:3: database.url_envv: unknown key "url_envv" (did you mean "url_env"?)
   2 |   url_envv: DB
     |   ^
tierflow.yaml:4:46: databases.warehouse.schema: unknown key "schema" (expected one of: driver, path, url_env, url_file)
   4 |   warehouse: {driver: postgres, url_env: WH, schema: x}
     |                                              ^
tierflow.yaml:6:3: serve.listn: unknown key "listn" (did you mean "listen"?)
   6 |   listn: 0.0.0.0:9090
     |   ^
tierflow.yaml:8:5: rulesets[0].source: "source" is required (give the SQL query, table or file that has one row per customer)
   8 |   - rules: a.yaml
     |     ^
tierflow.yaml:9:5: rulesets[0].sorce: unknown key "sorce" (did you mean "source"?)
   9 |     sorce: customer_facts
     |     ^
tierflow.yaml:10:13: rulesets[0].guard.max_action: unknown key "max_action" (did you mean "max_actions"?)
  10 |     guard: {max_action: 5}
     |             ^
tierflow.yaml:12:13: rulesets[1].source: no query, table or file (a source is one of query, table or file)
  12 |     source: {tabel: customer_facts}
     |             ^
tierflow.yaml:12:14: rulesets[1].source.tabel: unknown key "tabel" (did you mean "table"?)
  12 |     source: {tabel: customer_facts}
     |              ^`,
		},
		{
			name: "wrong types",
			src: `guard: [20%]
serve:
  listen: {host: x}
rulesets:
  - rules: [a.yaml, b.yaml]
    source: customer_facts
    initial_actions: yes
    guard:
      max_actions: lots
`,
			want: `tierflow.yaml:1:8: guard: must be a mapping (key: value lines), not a list
   1 | guard: [20%]
     |        ^
tierflow.yaml:3:11: serve.listen: must be a single value, not a mapping (key: value lines)
   3 |   listen: {host: x}
     |           ^
tierflow.yaml:5:12: rulesets[0].rules: must be a single value, not a list
   5 |   - rules: [a.yaml, b.yaml]
     |            ^
tierflow.yaml:7:22: rulesets[0].initial_actions: "yes" is not true or false
   7 |     initial_actions: yes
     |                      ^
tierflow.yaml:9:20: rulesets[0].guard.max_actions: "lots" is not a whole number
   9 |       max_actions: lots
     |                    ^`,
		},
		{
			name: "rulesets is not a list",
			src: `rulesets:
  rules: a.yaml
  source: customer_facts
`,
			want: `tierflow.yaml:2:3: rulesets: must be a list, not a mapping (key: value lines) (start each item with "- ")
   2 |   rules: a.yaml
     |   ^`,
		},
		{
			name: "ruleset item is not a mapping",
			src: `rulesets:
  - rules/a.yaml
`,
			want: `tierflow.yaml:2:5: rulesets[0]: must be a mapping (key: value lines), not a single value
   2 |   - rules/a.yaml
     |     ^`,
		},
		{
			name: "bad shares",
			src: `guard:
  max_moved: 120%
  max_error_rate: abc
  max_actions: -1
rulesets:
  - rules: a.yaml
    source: customer_facts
    guard:
      max_moved: 120%
`,
			want: `tierflow.yaml:2:14: guard.max_moved: "120%" is not between 0% and 100%
   2 |   max_moved: 120%
     |              ^
tierflow.yaml:3:19: guard.max_error_rate: "abc" is not a share (write 20% or 0.2)
   3 |   max_error_rate: abc
     |                   ^
tierflow.yaml:4:16: guard.max_actions: must be 0 (no limit) or more
   4 |   max_actions: -1
     |                ^
tierflow.yaml:9:18: rulesets[0].guard.max_moved: "120%" is not between 0% and 100%
   9 |       max_moved: 120%
     |                  ^`,
		},
		{
			name: "bad max_shrink",
			src: `guard:
  max_shrink: half
  max_shrnk: 50%
rulesets:
  - rules: a.yaml
    source: customer_facts
    guard: {max_shrink: 120%}
`,
			want: `tierflow.yaml:2:15: guard.max_shrink: "half" is not a share (write 20% or 0.2)
   2 |   max_shrink: half
     |               ^
tierflow.yaml:3:3: guard.max_shrnk: unknown key "max_shrnk" (did you mean "max_shrink"?)
   3 |   max_shrnk: 50%
     |   ^
tierflow.yaml:7:25: rulesets[0].guard.max_shrink: "120%" is not between 0% and 100%
   7 |     guard: {max_shrink: 120%}
     |                         ^`,
		},
		{
			name: "bad durations",
			src: `serve:
  starting_deadline: soon
  shutdown_timeout: -5s
`,
			want: `tierflow.yaml:2:22: serve.starting_deadline: "soon" is not a duration (write 30d, 2w or 12h)
   2 |   starting_deadline: soon
     |                      ^
tierflow.yaml:3:21: serve.shutdown_timeout: "-5s" is not a duration (write 30d, 2w or 12h)
   3 |   shutdown_timeout: -5s
     |                     ^`,
		},
		{
			name: "missing rules and source",
			src: `rulesets:
  - initial_actions: true
  - rules: ""
    source: "  "
  -
`,
			want: `tierflow.yaml:2:5: rulesets[0].rules: "rules" is required (name the rule file, e.g. rules: rules/customers.yaml)
   2 |   - initial_actions: true
     |     ^
tierflow.yaml:2:5: rulesets[0].source: "source" is required (give the SQL query, table or file that has one row per customer)
   2 |   - initial_actions: true
     |     ^
tierflow.yaml:3:12: rulesets[1].rules: must not be empty (name the rule file, e.g. rules: rules/customers.yaml)
   3 |   - rules: ""
     |            ^
tierflow.yaml:4:13: rulesets[1].source: must not be empty (give the SQL query or the table that has one row per customer)
   4 |     source: "  "
     |             ^
tierflow.yaml:5:4: rulesets[2].rules: "rules" is required (name the rule file, e.g. rules: rules/customers.yaml)
   5 |   -
     |    ^
tierflow.yaml:5:4: rulesets[2].source: "source" is required (give the SQL query, table or file that has one row per customer)
   5 |   -
     |    ^`,
		},
		{
			name: "url_env and url_file both",
			src: `database:
  url_env: TIERFLOW_DATABASE_URL
  url_file: /run/secrets/db
`,
			want: `tierflow.yaml:3:13: database.url_file: url_env and url_file are both set (keep one: url_env names an environment variable, url_file a file holding the URL)
   3 |   url_file: /run/secrets/db
     |             ^`,
		},
		{
			name: "path and url",
			src: `database:
  url_file: /run/secrets/db
  path: tierflow.db
`,
			want: `tierflow.yaml:3:9: database.path: set path or url_env/url_file, not both (path is the embedded SQLite store; url_env and url_file are for PostgreSQL)
   3 |   path: tierflow.db
     |         ^`,
		},
		{
			name: "a URL in url_env is not echoed",
			src: `database:
  url_env: postgres://tierflow:s3cretpw@db/crm
`,
			want: `tierflow.yaml:2:12: database.url_env: a database URL never goes in the config (set url_env to the name of the environment variable that holds it, such as TIERFLOW_DATABASE_URL)`,
		},
		{
			name: "a password under an unknown key is not echoed",
			src: `database:
  url: "host=db user=tierflow password=s3cretpw"
`,
			want: `tierflow.yaml:2:3: database.url: unknown key "url" (expected one of: path, schema, url_env, url_file)`,
		},
		{
			name: "two of query, table and file",
			src: `rulesets:
  - rules: a.yaml
    source:
      query: SELECT * FROM customer_facts
      table: customer_facts
`,
			want: `tierflow.yaml:5:14: rulesets[0].source: query and table are both set (a source is one of query, table or file)
   5 |       table: customer_facts
     |              ^`,
		},
		{
			name: "no query, table or file",
			src: `rulesets:
  - rules: a.yaml
    source: {database: warehouse}
databases:
  warehouse: {driver: postgres, url_env: WAREHOUSE_URL}
`,
			want: `tierflow.yaml:3:13: rulesets[0].source: no query, table or file (a source is one of query, table or file)
   3 |     source: {database: warehouse}
     |             ^`,
		},
		{
			name: "source is a list",
			src: `rulesets:
  - rules: a.yaml
    source: [customer_facts]
`,
			want: `tierflow.yaml:3:13: rulesets[0].source: must be a single value or a mapping, not a list (write a SQL query or a table name, or a mapping with one of query, table or file; several sources go in a list under sources:)
   3 |     source: [customer_facts]
     |             ^`,
		},
		{
			name: "unknown database",
			src: `databases:
  warehouse: {driver: postgres, url_env: WAREHOUSE_URL}
  lake: {driver: sqlite, path: lake.db}
rulesets:
  - rules: a.yaml
    source: {table: customer_facts, database: warehous}
  - rules: b.yaml
    source: {table: customer_facts, database: crm}
`,
			want: `tierflow.yaml:6:47: rulesets[0].source.database: unknown database "warehous" (did you mean "warehouse"?)
   6 |     source: {table: customer_facts, database: warehous}
     |                                               ^
tierflow.yaml:8:47: rulesets[1].source.database: unknown database "crm" (expected one of: lake, warehouse)
   8 |     source: {table: customer_facts, database: crm}
     |                                               ^`,
		},
		{
			name: "database without databases",
			src: `rulesets:
  - rules: a.yaml
    source: {query: SELECT 1, database: warehouse}
`,
			want: `tierflow.yaml:3:41: rulesets[0].source.database: unknown database "warehouse" (declare it under databases:, or leave database out to read the state database)
   3 |     source: {query: SELECT 1, database: warehouse}
     |                                         ^`,
		},
		{
			name: "file sources",
			src: `databases:
  warehouse: {driver: postgres, url_env: WAREHOUSE_URL}
rulesets:
  - rules: a.yaml
    source: {file: exports/customers.csv, database: warehouse}
  - rules: b.yaml
    source: {file: exports/customers.csv, format: xml}
  - rules: c.yaml
    source: {file: "exports/*"}
  - rules: d.yaml
    source: {table: customer_facts, format: csv}
  - rules: e.yaml
    source: {file: ""}
`,
			want: `tierflow.yaml:5:53: rulesets[0].source.database: a file source has no database (tierflow reads files itself; remove database)
   5 |     source: {file: exports/customers.csv, database: warehouse}
     |                                                     ^
tierflow.yaml:7:51: rulesets[1].source.format: unknown format "xml" (expected one of: csv, jsonl)
   7 |     source: {file: exports/customers.csv, format: xml}
     |                                                   ^
tierflow.yaml:9:20: rulesets[2].source.file: cannot tell the format of "exports/*" from its name (add format: csv or format: jsonl, or end the name in .csv, .jsonl, .ndjson or .json, optionally followed by .gz)
   9 |     source: {file: "exports/*"}
     |                    ^
tierflow.yaml:11:45: rulesets[3].source.format: format is for file sources (query and table sources have typed columns)
  11 |     source: {table: customer_facts, format: csv}
     |                                             ^
tierflow.yaml:13:20: rulesets[4].source.file: must not be empty
  13 |     source: {file: ""}
     |                    ^`,
		},
		{
			name: "bad table name",
			src: `rulesets:
  - rules: a.yaml
    source: {table: customer facts}
  - rules: b.yaml
    source: {table: a.b.c}
`,
			want: `tierflow.yaml:3:21: rulesets[0].source.table: "customer facts" is not a table name (write name or schema.name, in letters, digits and _; for anything else use query)
   3 |     source: {table: customer facts}
     |                     ^
tierflow.yaml:5:21: rulesets[1].source.table: "a.b.c" is not a table name (write name or schema.name, in letters, digits and _; for anything else use query)
   5 |     source: {table: a.b.c}
     |                     ^`,
		},
		{
			name: "databases",
			src: `databases:
  warehouse: {driver: postgresql, url_env: WAREHOUSE_URL}
  pg: {driver: postgres}
  pgpath: {driver: postgres, url_env: PG_URL, path: pg.db}
  lake: {driver: sqlite, url_file: secret}
  both: {driver: postgres, url_env: A, url_file: b}
  Bad-Name: {driver: sqlite, path: x.db}
  nothing:
`,
			want: `tierflow.yaml:2:23: databases.warehouse.driver: unknown driver "postgresql" (did you mean "postgres"?)
   2 |   warehouse: {driver: postgresql, url_env: WAREHOUSE_URL}
     |                       ^
tierflow.yaml:3:3: databases.pg: a postgres database needs url_env or url_file (name the environment variable or the file that holds its URL)
   3 |   pg: {driver: postgres}
     |   ^
tierflow.yaml:4:53: databases.pgpath.path: path is for sqlite databases (a postgres database reads its URL from url_env or url_file)
   4 |   pgpath: {driver: postgres, url_env: PG_URL, path: pg.db}
     |                                                     ^
tierflow.yaml:5:3: databases.lake.path: a sqlite database needs path (name the SQLite file, relative to this config file)
   5 |   lake: {driver: sqlite, url_file: secret}
     |   ^
tierflow.yaml:5:36: databases.lake.url_file: url_file is for postgres databases (a sqlite database is a file: set path)
   5 |   lake: {driver: sqlite, url_file: secret}
     |                                    ^
tierflow.yaml:6:50: databases.both.url_file: url_env and url_file are both set (keep one: url_env names an environment variable, url_file a file holding the URL)
   6 |   both: {driver: postgres, url_env: A, url_file: b}
     |                                                  ^
tierflow.yaml:7:3: databases.Bad-Name: "Bad-Name" is not a valid name (use lower-case letters, digits and _, starting with a letter, at most 63 characters)
   7 |   Bad-Name: {driver: sqlite, path: x.db}
     |   ^
tierflow.yaml:8:3: databases.nothing.driver: "driver" is required (write driver: postgres or driver: sqlite)
   8 |   nothing:
     |   ^`,
		},
		{
			name: "duplicate keys",
			src: `rulesets:
  - rules: a.yaml
    source: customer_facts
    rules: b.yaml
guard: {}
guard: {}
`,
			want: `tierflow.yaml:4:5: rulesets[0].rules: "rules" is defined twice (the first is on line 2)
   4 |     rules: b.yaml
     |     ^
tierflow.yaml:6:1: guard: "guard" is defined twice (the first is on line 5)
   6 | guard: {}
     | ^`,
		},
		{
			name: "anchors and aliases",
			src: `guard: &g
  max_moved: 10%
rulesets:
  - rules: a.yaml
    source: customer_facts
    guard: *g
`,
			want: `tierflow.yaml:1:8: YAML anchors and aliases (& and *) are not supported (write the value out)
   1 | guard: &g
     |        ^
tierflow.yaml:6:12: YAML anchors and aliases (& and *) are not supported (write the value out)
   6 |     guard: *g
     |            ^`,
		},
		{
			name: "two documents",
			src: `rulesets: []
---
guard: {}
`,
			want: `tierflow.yaml:2: a file holds one YAML document, but a second one starts here (remove the --- line and what follows, or merge it into the first document)
   2 | ---
     | ^`,
		},
		{
			name: "syntax error",
			src: `rulesets:
  - rules: a.yaml
    source: SELECT id: 1
`,
			want: `tierflow.yaml:3:22: YAML syntax: mapping values are not allowed in this context (check indentation and quoting; a value that contains ": " must be quoted)
   3 |     source: SELECT id: 1
     |                      ^`,
		},
		{
			name: "not a mapping",
			src: `- rules: a.yaml
`,
			want: `tierflow.yaml:1:1: must be a mapping (key: value lines), not a list
   1 | - rules: a.yaml
     | ^`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := configErrors(t, tt.src).Error(); got != tt.want {
				t.Errorf("got\n%s\n\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestConfigReportsEveryError: one mistake at each level of a file, and
// every one of them is reported, in file order, with its field path.
func TestConfigReportsEveryError(t *testing.T) {
	t.Parallel()
	src := `database:
  url_env: TIERFLOW_DATABASE_URL
  url_file: db-url
databases:
  warehouse: {driver: postgres}
guard:
  max_moved: 20
serve:
  shutdown_timeout: 30 seconds
rulesets:
  - rules: rules/retail.yaml
    source: {table: customer_facts, database: warehose}
    guard:
      max_moved: 120%
  - source: customer_facts
    initial_actions: sometimes
gaurd: {}
`
	want := []string{
		"tierflow.yaml:3:13 database.url_file",
		"tierflow.yaml:5:3 databases.warehouse",
		"tierflow.yaml:7:14 guard.max_moved",
		"tierflow.yaml:9:21 serve.shutdown_timeout",
		"tierflow.yaml:12:47 rulesets[0].source.database",
		"tierflow.yaml:14:18 rulesets[0].guard.max_moved",
		"tierflow.yaml:15:5 rulesets[1].rules",
		"tierflow.yaml:16:22 rulesets[1].initial_actions",
		"tierflow.yaml:17:1 gaurd",
	}
	var got []string
	for _, d := range configErrors(t, src) {
		got = append(got, d.Pos.String()+" "+d.Field)
		if d.Snippet == "" {
			t.Errorf("%s has no snippet", d)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestConfigSources parses every form of source: into its sourceConfig.
func TestConfigSources(t *testing.T) {
	t.Parallel()
	const databases = `databases:
  warehouse: {driver: postgres, url_env: WAREHOUSE_URL}
`
	tests := []struct {
		name   string
		source string // the YAML after "source:"
		want   sourceConfig
	}{
		{"table name as a string", "customer_facts", sourceConfig{Query: "customer_facts"}},
		{"query as a string", `"SELECT * FROM customer_facts"`, sourceConfig{Query: "SELECT * FROM customer_facts"}},
		{"query as a block", "|\n      SELECT customer_id, spend_12m\n      FROM customer_facts", sourceConfig{Query: "SELECT customer_id, spend_12m\nFROM customer_facts\n"}},
		{"query on the state database", `{query: "SELECT 1"}`, sourceConfig{Query: "SELECT 1"}},
		{"query on another database", `{query: "SELECT 1", database: warehouse}`, sourceConfig{Query: "SELECT 1", Database: "warehouse"}},
		{"table", "{table: analytics.customer_facts}", sourceConfig{Table: "analytics.customer_facts"}},
		{"table on another database", "{table: customer_facts, database: warehouse}", sourceConfig{Table: "customer_facts", Database: "warehouse"}},
		{"file", "{file: exports/customers-*.csv.gz}", sourceConfig{File: "exports/customers-*.csv.gz"}},
		{"file with format", "{file: exports/customers.txt, format: jsonl}", sourceConfig{File: "exports/customers.txt", Format: "jsonl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := databases + "rulesets:\n  - rules: rules/retail.yaml\n    source: " + tt.source + "\n"
			cfg, err := parseConfig(filepath.Join("conf", "tierflow.yaml"), []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.RuleSets[0].Sources[0]
			if len(cfg.RuleSets[0].Sources) != 1 || got.pos != (rules.Pos{File: filepath.Join("conf", "tierflow.yaml"), Line: 5, Col: 13}) || got.field != "rulesets[0].source" {
				t.Errorf("sources %+v, want one at conf/tierflow.yaml:5:13", cfg.RuleSets[0].Sources)
			}
			got.pos, got.field = rules.Pos{}, ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestConfigComplete parses a config that sets every key.
func TestConfigComplete(t *testing.T) {
	t.Parallel()
	src := `database:
  url_file: /run/secrets/tierflow-db
  schema: tierflow
databases:
  warehouse:
    driver: postgres
    url_env: WAREHOUSE_URL
  lake: {driver: sqlite, path: data/lake.db}
guard:
  max_moved: 20%
  max_actions: 100000
  max_error_rate: 0.01
  max_shrink: 50%
serve:
  listen: 0.0.0.0:9090
  starting_deadline: 2h
  shutdown_timeout: 45s
rulesets:
  - rules: rules/retail.yaml
    source: {table: customer_facts, database: warehouse}
    guard: {max_moved: 5%, max_actions: 0, max_shrink: 0}
    initial_actions: true
  - rules: rules/b2b.yaml
    source: {file: exports/accounts.jsonl}
`
	cfg, err := parseConfig("/etc/tierflow/tierflow.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	const file = "/etc/tierflow/tierflow.yaml"
	at := func(line, col int) rules.Pos { return rules.Pos{File: file, Line: line, Col: col} }
	zero, many := 0, 100000
	want := &config{
		Databases: map[string]databaseConfig{
			"warehouse": {Driver: "postgres", URLEnv: "WAREHOUSE_URL", pos: at(5, 3)},
			"lake":      {Driver: "sqlite", Path: "data/lake.db", pos: at(8, 3)},
		},
		Guard: guardConfig{MaxMoved: "20%", MaxActions: &many, MaxErrorRate: "0.01", MaxShrink: "50%"},
		Serve: serveConfig{Listen: "0.0.0.0:9090", StartingDeadline: "2h", ShutdownTimeout: "45s"},
		RuleSets: []ruleSetConfig{
			{
				Rules:          "rules/retail.yaml",
				Sources:        []sourceConfig{{Table: "customer_facts", Database: "warehouse", pos: at(20, 13), field: "rulesets[0].source"}},
				Guard:          &guardConfig{MaxMoved: "5%", MaxActions: &zero, MaxShrink: "0"},
				InitialActions: true,
				pos:            at(19, 5),
			},
			{Rules: "rules/b2b.yaml", Sources: []sourceConfig{{File: "exports/accounts.jsonl", pos: at(24, 13), field: "rulesets[1].source"}}, pos: at(23, 5)},
		},
		dir: "/etc/tierflow",
	}
	want.Database.URLFile = "/run/secrets/tierflow-db"
	want.Database.Schema = "tierflow"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}

	g := cfg.guardFor(&cfg.RuleSets[0])
	if g.MaxMovedShare != 0.05 || g.MaxActions != 0 || g.MaxErrorRate != 0.01 || g.MaxShrinkShare != 0 {
		t.Errorf("guardFor(retail) = %+v; want the rule set's max_moved, max_actions and max_shrink over the config's", g)
	}
	if g := cfg.guardFor(&cfg.RuleSets[1]); g.MaxMovedShare != 0.2 || g.MaxActions != 100000 || g.MaxShrinkShare != 0.5 {
		t.Errorf("guardFor(b2b) = %+v; want the config's guard", g)
	}
	if deadline, shutdown, err := cfg.Serve.durations(); err != nil || deadline.String() != "2h0m0s" || shutdown.String() != "45s" {
		t.Errorf("durations() = %v, %v, %v", deadline, shutdown, err)
	}
	if got := cfg.rulesPath(cfg.RuleSets[0]); got != "/etc/tierflow/rules/retail.yaml" {
		t.Errorf("rulesPath = %s", got)
	}
}

// TestConfigGuardMaxShrink: guard.max_shrink sets Guard.MaxShrinkShare
// from the default, then the config's guard, then the rule set's; 0 is no
// limit, and apply reports a bad value with its field.
func TestConfigGuardMaxShrink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		guard     string // the config's guard:, "" for none
		ruleGuard string // the rule set's guard:, "" for none
		want      float64
	}{
		{"default", "", "", jobs.DefaultGuard.MaxShrinkShare},
		{"percent", "{max_shrink: 40%}", "", 0.4},
		{"fraction", "{max_shrink: 0.1}", "", 0.1},
		{"no limit", "{max_shrink: 0}", "", 0},
		{"the rule set's over the config's", "{max_shrink: 40%}", "{max_shrink: 60%}", 0.6},
		{"a rule set guard without it keeps the config's", "{max_shrink: 40%}", "{max_moved: 5%}", 0.4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "rulesets:\n  - rules: a.yaml\n    source: customer_facts\n"
			if tt.ruleGuard != "" {
				src += "    guard: " + tt.ruleGuard + "\n"
			}
			if tt.guard != "" {
				src += "guard: " + tt.guard + "\n"
			}
			cfg, err := parseConfig("tierflow.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			g := cfg.guardFor(&cfg.RuleSets[0])
			if g.MaxShrinkShare != tt.want {
				t.Errorf("MaxShrinkShare = %v, want %v", g.MaxShrinkShare, tt.want)
			}
			if g.MaxMovedShare == 0 || g.MaxActions == 0 {
				t.Errorf("guard %+v lost the other limits", g)
			}
		})
	}
	if _, err := (guardConfig{MaxShrink: "-5%"}).apply(jobs.DefaultGuard); err == nil || err.Error() != `max_shrink: "-5%" is not between 0% and 100%` {
		t.Errorf("apply of max_shrink -5%%: %v", err)
	}
}

// TestConfigEmpty: a file with nothing in it is an empty config, as is no
// default file at all.
func TestConfigEmpty(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"", "# nothing yet\n", "---\n", "~\n"} {
		cfg, err := parseConfig("tierflow.yaml", []byte(src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if len(cfg.RuleSets) != 0 || cfg.Databases != nil || cfg.guardFor(nil) != jobs.DefaultGuard {
			t.Errorf("%q gave %+v", src, cfg)
		}
	}
}

// TestConfigFileFormat: a file source's format comes from format:, else
// from the file's extension.
func TestConfigFileFormat(t *testing.T) {
	t.Parallel()
	tests := []struct{ file, format, want string }{
		{"customers.csv", "", "csv"},
		{"exports/customers-*.csv.gz", "", "csv"},
		{"customers.CSV", "", "csv"},
		{"customers.jsonl", "", "jsonl"},
		{"customers.ndjson.gz", "", "jsonl"},
		{"customers.json", "", "jsonl"},
		{"customers.txt", "csv", "csv"},
		{"customers.csv", "jsonl", "jsonl"},
		{"customers.txt", "", ""},
		{"customers.gz", "", ""},
	}
	for _, tt := range tests {
		if got := (sourceConfig{File: tt.file, Format: tt.format}).fileFormat(); got != tt.want {
			t.Errorf("fileFormat(%q, %q) = %q, want %q", tt.file, tt.format, got, tt.want)
		}
	}
}

// TestConfigDocsExamples: the configs the docs show parse.
func TestConfigDocsExamples(t *testing.T) {
	t.Parallel()
	found := 0
	for _, doc := range []string{"../../README.md", "../../docs/operations.md", "../../docs/demo-data.md", "../../docs/sources.md"} {
		for _, b := range codeBlocks(t, doc, "yaml") {
			if !strings.Contains(b, "rulesets:") || strings.Contains(b, "apiVersion:") {
				continue
			}
			found++
			if _, err := parseConfig("tierflow.yaml", []byte(b)); err != nil {
				t.Errorf("%s: a config example does not parse:\n%v\n%s", doc, err, b)
			}
		}
	}
	if found == 0 {
		t.Error("no config examples found in the docs")
	}
}

// TestConfigInitTemplate: the config tierflow init writes parses.
func TestConfigInitTemplate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tierflow.yaml")
	if err := os.WriteFile(path, []byte(initConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RuleSets) != 1 || len(cfg.RuleSets[0].Sources) != 1 || cfg.RuleSets[0].Sources[0].Query+cfg.RuleSets[0].Sources[0].Table+cfg.RuleSets[0].Sources[0].File == "" {
		t.Errorf("got %+v; want one rule set with a source", cfg.RuleSets)
	}
}

// FuzzConfig: no config file makes parseConfig panic, and every failure
// is a list of diagnostics with positions in the file.
func FuzzConfig(f *testing.F) {
	f.Add(initConfig)
	f.Add("databases:\n  w: {driver: postgres, url_env: W}\nrulesets:\n  - rules: a\n    source: {table: t, database: w}\n")
	f.Add("rulesets:\n  - rules: a\n    source: {file: x.csv, format: csv, query: q}\n")
	f.Add("rulesets:\n  - rules: a\n    sources:\n      - {table: t, key: {trim: true, case: lower}, min_rows: 5}\n      - {name: c, file: c.csv, facts: [x, y], fresh_within: 2d, on_duplicate: last}\n")
	f.Fuzz(func(t *testing.T, src string) {
		_, err := parseConfig("tierflow.yaml", []byte(src))
		if err == nil {
			return
		}
		var list rules.ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is not a diagnostics list: %v", err)
		}
		for _, d := range list {
			if d.Pos.File != "tierflow.yaml" {
				t.Errorf("diagnostic without the file: %s", d)
			}
		}
	})
}

// TestConfigChangeColumn: change_column is the primary source's, in the
// state's database, of an incremental rule set; change_lookback needs it.
// Each mistake is reported where it is, with what to do.
func TestConfigChangeColumn(t *testing.T) {
	t.Parallel()
	good := "rulesets:\n  - rules: a.yaml\n    source: {table: customer_facts, change_column: updated_at, change_lookback: 2d}\n    incremental: true\n"
	cfg, err := parseConfig("tierflow.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.RuleSets[0].Sources[0].jobsSource(nil); s.ChangeColumn != "updated_at" || s.ChangeLookback != 48*time.Hour {
		t.Errorf("change column %q, lookback %v; want updated_at, 48h", s.ChangeColumn, s.ChangeLookback)
	}
	for _, c := range []struct{ name, src, want string }{
		{"not incremental", "rulesets:\n  - rules: a.yaml\n    source: {table: t, change_column: updated_at}\n",
			`tierflow.yaml:3:39: rulesets[0].source.change_column: change_column is read only by incremental runs, and this rule set is not incremental (add incremental: true to the rule set, or leave change_column out)`},
		{"a file", "rulesets:\n  - rules: a.yaml\n    source: {file: f.csv, change_column: updated_at}\n    incremental: true\n",
			`tierflow.yaml:3:42: rulesets[0].source.change_column: a file source has no change column (leave change_column out: incremental runs compare a file's rows by their digests)`},
		{"another database", "databases:\n  w: {driver: postgres, url_env: W}\nrulesets:\n  - rules: a.yaml\n    source: {table: t, database: w, change_column: updated_at}\n    incremental: true\n",
			`tierflow.yaml:5:52: rulesets[0].source.change_column: change_column works only on a table or query in the state's database, and this source is in database "w" (leave change_column out, or read the table from the state's database (no database:))`},
		{"not the first source", "rulesets:\n  - rules: a.yaml\n    sources:\n      - {table: t}\n      - {name: c, table: c, facts: [x], change_column: updated_at}\n    incremental: true\n",
			`tierflow.yaml:5:56: rulesets[0].sources[1].change_column: change_column works only on the first (primary) source (move change_column to the first source, or leave it out)`},
		{"a lookback alone", "rulesets:\n  - rules: a.yaml\n    source: {table: t, change_lookback: 1d}\n    incremental: true\n",
			`tierflow.yaml:3:41: rulesets[0].source.change_lookback: change_lookback says how far back change_column is read, and change_column is not set (add change_column: updated_at, the column every insert and update sets, or remove change_lookback)`},
		{"no lookback", "rulesets:\n  - rules: a.yaml\n    source: {table: t, change_column: u, change_lookback: 0s}\n    incremental: true\n",
			`tierflow.yaml:3:59: rulesets[0].source.change_lookback: must be longer than 0 (write how long before the last run's latest change to look again, e.g. change_lookback: 1d, or leave it out for 1d)`},
	} {
		if got := configErrors(t, c.src).Error(); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: got\n%s\nwant it to start with\n%s", c.name, got, c.want)
		}
	}
}
