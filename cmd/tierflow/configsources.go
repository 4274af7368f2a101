package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// sourceConfig is one facts source of a rule set: one of Query, Table or
// File, and how tierflow treats what it returns. The YAML of a rule set's
// only source (source:) is either a string, a SQL query or a table or
// view name on the state database (kept in Query, as before there were
// other forms), or a mapping with exactly one of query, table or file;
// sources: is a list of such mappings, the first being the primary one:
//
//	source: {query: "SELECT ...", database: warehouse}
//	source: {table: analytics.customer_facts}   # on the state database
//	source: {file: exports/customers-*.csv.gz, format: csv}
//	sources:
//	  - {table: crm.customers}
//	  - {name: consent, file: consent.csv, facts: [marketing_consent]}
type sourceConfig struct {
	Query    string // query
	Table    string // table
	Database string // database: a name under databases:; "" is the state database (never with File)
	// File is a path or glob relative to the config's directory (resolve
	// it with config.relative when reading).
	File string
	// Format is "csv" or "jsonl"; "" means from File's extension (see
	// fileFormat).
	Format string

	// Name names the source in reports and checks (name); "" for the
	// first source means jobs.PrimarySource.
	Name string
	// Facts are the facts the source provides (facts); nil for the first
	// source means every fact no other source provides.
	Facts []string
	// OnDuplicate is what to do with a key returned twice (on_duplicate:
	// error, first or last); "" is error.
	OnDuplicate string
	// Key says how keys are normalised before they are matched (key:
	// {trim, case, strip_zeros}).
	Key jobs.KeyNormalization
	// MinRows, MaxRowChange (a share), FreshWithin and FreshFact are the
	// checks declared on the source (min_rows, max_row_change,
	// fresh_within, fresh_fact); zero means no check.
	MinRows      int64
	MaxRowChange float64
	FreshWithin  time.Duration
	FreshFact    string
	// ChangeColumn and ChangeLookback (change_column, change_lookback)
	// are jobs.Source's; changeNode is change_column's value, "" and nil
	// for none.
	ChangeColumn   string
	ChangeLookback time.Duration
	changeNode     *yaml.Node

	pos   rules.Pos // the source's value in the config
	field string    // its field path: rulesets[0].source, rulesets[0].sources[1]
	// factPos holds where each of Facts is; freshFactPos where FreshFact
	// is: Sources.Check's problems are reported there.
	factPos      []rules.Pos
	freshFactPos rules.Pos
}

// fileFormat returns the format a file source is read in: Format, or the
// one its extension names, or "" when it names none.
func (s sourceConfig) fileFormat() string {
	if s.Format != "" {
		return s.Format
	}
	name := strings.TrimSuffix(strings.ToLower(s.File), ".gz")
	switch filepath.Ext(name) {
	case ".csv":
		return "csv"
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	}
	return ""
}

// name is the source's name in reports: Name, or "primary".
func (s sourceConfig) name() string {
	if s.Name == "" {
		return jobs.PrimarySource
	}
	return s.Name
}

// jobsSource is the source as package jobs runs it, reading facts.
func (s sourceConfig) jobsSource(facts jobs.FactsSource) jobs.Source {
	return jobs.Source{
		Name: s.name(), Facts: facts, Provides: s.Facts, OnDuplicate: s.OnDuplicate, Key: s.Key,
		MinRows: s.MinRows, MaxRowChange: s.MaxRowChange, FreshWithin: s.FreshWithin, FreshFact: s.FreshFact,
		ChangeColumn: s.ChangeColumn, ChangeLookback: s.ChangeLookback,
	}
}

// The keys of a source mapping: its kind and where it is, then how its
// rows are treated and checked.
var (
	sourceKinds   = []string{"query", "table", "file"}
	sourceKeys    = []string{"query", "table", "file", "database", "format", "name", "facts", "on_duplicate", "key", "min_rows", "max_row_change", "fresh_within", "fresh_fact", "change_column", "change_lookback"}
	keyNormKeys   = []string{"trim", "case", "strip_zeros"}
	sourcesOneOf  = "give one source with source:, or a list under sources: whose first item is the primary source"
	sourceExample = "write a mapping such as {name: consent, file: consent.csv, facts: [marketing_consent]}"
)

// ruleSetSources reads a rule set's source: or sources: (exactly one of
// them) from its mapping m.
func (r *configReader) ruleSetSources(n *yaml.Node, m map[string]*yaml.Node, field string, dbs map[string]databaseConfig) []sourceConfig {
	one, list := present(m["source"]), present(m["sources"])
	if one && list {
		r.Errorf(later(keyNode(n, "source"), keyNode(n, "sources")), field, sourcesOneOf, "source and sources are both set")
	}
	if list {
		return r.sourceList(m["sources"], field+".sources", dbs)
	}
	sn := r.Required(m, n, field, "source", "give the SQL query, table or file that has one row per customer")
	if sn == nil {
		return nil
	}
	s, _ := r.source(sn, field+".source", dbs)
	return []sourceConfig{s}
}

// keyNode returns the node of key in mapping n, which has it.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return n
}

// present reports whether a key is set to something other than null.
func present(n *yaml.Node) bool { return n != nil && n.Tag != "!!null" }

// sourceList reads sources:, a list of source mappings: names unique,
// every source after the first with a name and its facts, and no fact
// provided twice.
func (r *configReader) sourceList(n *yaml.Node, field string, dbs map[string]databaseConfig) []sourceConfig {
	items := r.List(n, field)
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		r.Errorf(n, field, "list one mapping per source; the first is the primary one", "must list at least one source")
	}
	var out []sourceConfig
	names := map[string]int{}    // name -> line
	owner := map[string]string{} // fact -> source
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		if item.Kind != yaml.MappingNode {
			r.Errorf(item, f, sourceExample, "a source in a list must be a mapping")
			continue
		}
		s, m := r.source(item, f, dbs)
		if i > 0 {
			r.Required(m, item, f, "name", "name each source after the first, e.g. name: consent")
			r.Required(m, item, f, "facts", "list the facts this source provides, e.g. facts: [marketing_consent]; only the first source may leave facts out and provide the rest")
		}
		if line, dup := names[s.name()]; dup && s.Name != "" {
			r.Errorf(m["name"], f+".name", "give each source of a rule set its own name", "source name %q is used twice (the first is on line %d)", s.name(), line)
		} else if i == 0 || s.Name != "" {
			names[s.name()] = item.Line
		}
		r.claimFacts(m["facts"], f+".facts", s, owner)
		out = append(out, s)
	}
	return out
}

// claimFacts records in owner (fact -> source) the facts source s lists
// in n, reporting each that an earlier source lists already.
func (r *configReader) claimFacts(n *yaml.Node, field string, s sourceConfig, owner map[string]string) {
	if !present(n) || n.Kind != yaml.SequenceNode {
		return
	}
	for j, item := range n.Content {
		fact := item.Value
		if !slices.Contains(s.Facts, fact) {
			continue // not a name: reported
		}
		if prev, dup := owner[fact]; dup && prev != s.name() {
			r.Errorf(item, fmt.Sprintf("%s[%d]", field, j), "a fact comes from one source: remove it from one of the lists",
				"fact %q is already provided by source %q", fact, prev)
			continue
		}
		owner[fact] = s.name()
	}
}

// source reads one source: a string (a query or a table name on the
// state database, only for source:), or a mapping. It returns the
// mapping's entries, nil for a string.
func (r *configReader) source(n *yaml.Node, field string, dbs map[string]databaseConfig) (sourceConfig, map[string]*yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		s := sourceConfig{Query: r.nonEmpty(n, field, "give the SQL query or the table that has one row per customer"), pos: r.Pos(n), field: field}
		return s, nil
	case yaml.MappingNode:
	default:
		r.Errorf(n, field, "write a SQL query or a table name, or a mapping with one of query, table or file; several sources go in a list under sources:",
			"must be a single value or a mapping, not a list")
		return sourceConfig{field: field}, nil
	}
	m, _ := r.Mapping(n, field, sourceKeys...)
	s := sourceConfig{pos: r.Pos(n), field: field, Database: r.String(m["database"], field+".database"), Format: r.String(m["format"], field+".format")}
	set := sourceKindsSet(m)
	const oneOf = "a source is one of query, table or file"
	switch {
	case len(set) == 0:
		r.Errorf(n, field, oneOf, "no query, table or file")
	case len(set) > 1:
		r.Errorf(later(m[set[0]], m[set[1]]), field, oneOf, "%s and %s are both set", set[0], set[1])
	}
	s.Query = r.nonEmpty(m["query"], field+".query", "")
	s.Table = r.table(m["table"], field+".table")
	s.File = r.nonEmpty(m["file"], field+".file", "")
	r.sourceDatabase(m, field, s, dbs)
	r.sourceFormat(m, field, s)
	s.Name = r.Name(m["name"], field+".name")
	s.Facts, s.factPos = r.factList(m["facts"], field+".facts")
	r.sourceTreatment(m, field, &s)
	r.sourceChecks(m, field, &s)
	r.sourceChange(m, field, &s)
	return s, m
}

// sourceChange reads change_column and change_lookback: only a table or
// query of the state's database can say which rows changed.
func (r *configReader) sourceChange(m map[string]*yaml.Node, field string, s *sourceConfig) {
	if n := m["change_lookback"]; present(n) {
		if d := r.duration(n, field+".change_lookback"); d != "" {
			var err error
			if s.ChangeLookback, err = rules.ParseDuration(d); err == nil && s.ChangeLookback <= 0 {
				r.Errorf(n, field+".change_lookback", "write how long before the last run's latest change to look again, e.g. change_lookback: 1d, or leave it out for 1d", "must be longer than 0")
			}
		}
		if !present(m["change_column"]) {
			r.Errorf(n, field+".change_lookback", "add change_column: updated_at, the column every insert and update sets, or remove change_lookback",
				"change_lookback says how far back change_column is read, and change_column is not set")
		}
	}
	n := m["change_column"]
	if !present(n) {
		return
	}
	s.ChangeColumn, s.changeNode = r.nonEmpty(n, field+".change_column", "name the time column every insert and update sets, e.g. change_column: updated_at"), n
	switch {
	case s.File != "":
		r.Errorf(n, field+".change_column", "leave change_column out: incremental runs compare a file's rows by their digests",
			"a file source has no change column")
	case s.Database != "":
		r.Errorf(n, field+".change_column", "leave change_column out, or read the table from the state's database (no database:)",
			"change_column works only on a table or query in the state's database, and this source is in database %q", s.Database)
	}
}

// factList reads facts:, a non-empty list of distinct fact names, and
// where each is.
func (r *configReader) factList(n *yaml.Node, field string) ([]string, []rules.Pos) {
	if !present(n) {
		return nil, nil
	}
	items := r.List(n, field)
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		r.Errorf(n, field, "list the facts this source provides, e.g. facts: [marketing_consent], or leave facts out of the first source", "must name at least one fact")
	}
	var names []string
	var at []rules.Pos
	seen := map[string]bool{}
	for j, item := range items {
		f := fmt.Sprintf("%s[%d]", field, j)
		name := r.Name(item, f)
		if name == "" {
			continue
		}
		if seen[name] {
			r.Errorf(item, f, "list each fact once", "fact %q is listed twice", name)
			continue
		}
		seen[name] = true
		names = append(names, name)
		at = append(at, r.Pos(item))
	}
	return names, at
}

// sourceTreatment reads on_duplicate and key.
func (r *configReader) sourceTreatment(m map[string]*yaml.Node, field string, s *sourceConfig) {
	s.OnDuplicate = r.String(m["on_duplicate"], field+".on_duplicate")
	if s.OnDuplicate != "" && !slices.Contains(jobs.OnDuplicateValues, s.OnDuplicate) {
		r.Errorf(m["on_duplicate"], field+".on_duplicate",
			nearOr(s.OnDuplicate, jobs.OnDuplicateValues, "use error to refuse a source that returns a key twice (the default), or first or last to keep one row of each key"),
			"unknown on_duplicate %q", s.OnDuplicate)
	}
	if !present(m["key"]) {
		return
	}
	if m["key"].Kind == yaml.ScalarNode {
		r.Errorf(m["key"], field+".key", "write how keys are normalised, e.g. key: {trim: true, case: lower, strip_zeros: true}; the key column itself is the rule file's key",
			"must be a mapping, not a single value")
		return
	}
	km, _ := r.Mapping(m["key"], field+".key", keyNormKeys...)
	s.Key.Trim = r.Bool(km["trim"], field+".key.trim")
	s.Key.StripZeros = r.Bool(km["strip_zeros"], field+".key.strip_zeros")
	s.Key.Case = r.String(km["case"], field+".key.case")
	if s.Key.Case != "" && !slices.Contains(jobs.KeyCases, s.Key.Case) {
		r.Errorf(km["case"], field+".key.case", nearOr(s.Key.Case, jobs.KeyCases, "use lower or upper, or leave case out to match keys as they are"),
			"unknown key case %q", s.Key.Case)
	}
}

// sourceChecks reads the checks declared on a source: min_rows,
// max_row_change, fresh_within and fresh_fact.
func (r *configReader) sourceChecks(m map[string]*yaml.Node, field string, s *sourceConfig) {
	if v, ok := r.Int(m["min_rows"], field+".min_rows"); ok {
		if v < 0 {
			r.Errorf(m["min_rows"], field+".min_rows", "write the fewest rows a good load has, e.g. min_rows: 10000", "must be 0 (no check) or more")
		}
		s.MinRows = int64(v)
	}
	if share := r.share(m["max_row_change"], field+".max_row_change"); share != "" {
		s.MaxRowChange, _ = parseShare(share)
	}
	if d := r.duration(m["fresh_within"], field+".fresh_within"); d != "" {
		var err error
		if s.FreshWithin, err = rules.ParseDuration(d); err == nil && s.FreshWithin == 0 {
			r.Errorf(m["fresh_within"], field+".fresh_within", "write how old the newest facts may be, e.g. fresh_within: 2d, or leave fresh_within out", "must be longer than 0")
		}
	}
	s.FreshFact = r.Name(m["fresh_fact"], field+".fresh_fact")
	if s.FreshFact != "" {
		s.freshFactPos = r.Pos(m["fresh_fact"])
	}
	switch {
	case s.FreshFact != "" && !present(m["fresh_within"]):
		r.Errorf(m["fresh_fact"], field+".fresh_fact", "add fresh_within: 2d to say how old its newest value may be, or remove fresh_fact",
			"fresh_fact names the time fact fresh_within checks, and fresh_within is not set")
	case s.FreshWithin > 0 && m["fresh_fact"] == nil && m["file"] == nil && len(sourceKindsSet(m)) > 0:
		r.Errorf(m["fresh_within"], field+".fresh_within", "name the time fact that dates its rows, e.g. fresh_fact: updated_at; only a file source can be dated by its files",
			"a query or table source needs fresh_fact with fresh_within")
	}
}

// nearOr is the did-you-mean hint for a near candidate, else hint.
func nearOr(s string, candidates []string, hint string) string {
	if h := rules.Suggest(s, candidates); strings.HasPrefix(h, "did you mean") {
		return h
	}
	return hint
}

// sourceKindsSet lists which of query, table and file m sets.
func sourceKindsSet(m map[string]*yaml.Node) []string {
	var set []string
	for _, k := range sourceKinds {
		if m[k] != nil {
			set = append(set, k)
		}
	}
	return set
}

// later returns whichever of a and b comes later in the file.
func later(a, b *yaml.Node) *yaml.Node {
	if b.Line > a.Line || (b.Line == a.Line && b.Column > a.Column) {
		return b
	}
	return a
}

// tableRE matches a table or view name, optionally with its schema.
var tableRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$`)

func (r *configReader) table(n *yaml.Node, field string) string {
	if n == nil {
		return ""
	}
	s := r.nonEmpty(n, field, "")
	if s != "" && !tableRE.MatchString(s) {
		r.Errorf(n, field, "write name or schema.name, in letters, digits and _; for anything else use query", "%q is not a table name", s)
	}
	return s
}

func (r *configReader) sourceDatabase(m map[string]*yaml.Node, field string, s sourceConfig, dbs map[string]databaseConfig) {
	if s.Database == "" {
		return
	}
	if m["file"] != nil {
		r.Errorf(m["database"], field+".database", "tierflow reads files itself; remove database", "a file source has no database")
		return
	}
	if _, ok := dbs[s.Database]; !ok {
		hint := "declare it under databases:, or leave database out to read the state database"
		if len(dbs) > 0 {
			hint = rules.Suggest(s.Database, slices.Sorted(maps.Keys(dbs)))
		}
		r.Errorf(m["database"], field+".database", hint, "unknown database %q", s.Database)
	}
}

var formats = []string{"csv", "jsonl"}

func (r *configReader) sourceFormat(m map[string]*yaml.Node, field string, s sourceConfig) {
	switch {
	case s.Format != "" && m["file"] == nil:
		r.Errorf(m["format"], field+".format", "query and table sources have typed columns", "format is for file sources")
	case s.Format != "" && !slices.Contains(formats, s.Format):
		r.Errorf(m["format"], field+".format", rules.Suggest(s.Format, formats), "unknown format %q", s.Format)
	case s.File != "" && s.fileFormat() == "":
		r.Errorf(m["file"], field+".file", "add format: csv or format: jsonl, or end the name in .csv, .jsonl, .ndjson or .json, optionally followed by .gz",
			"cannot tell the format of %q from its name", s.File)
	}
}

// transactionKeys are the keys of a transactions: mapping: where the
// transactions are, as a source's; the columns they hold are the rule
// file's to name (transactions: there).
var transactionKeys = []string{"query", "table", "file", "database", "format"}

// transactionsSource reads a rule set's transactions:, where the
// transactions its derived facts read come from: a string (a query or a
// table on the state database) or a mapping with one of query, table or
// file, as source: takes, and none of the keys that treat or check facts
// rows. It returns nil when transactions: is not set.
func (r *configReader) transactionsSource(n *yaml.Node, field string, dbs map[string]databaseConfig) *sourceConfig {
	if !present(n) {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		n = r.transactionKeys(n, field)
	}
	s, _ := r.source(n, field, dbs)
	s.Name = "transactions"
	return &s
}

// transactionKeys reports the keys of a transactions: mapping that are
// not transactionKeys, and returns the mapping without them.
func (r *configReader) transactionKeys(n *yaml.Node, field string) *yaml.Node {
	kept := *n
	kept.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch {
		case slices.Contains(transactionKeys, k.Value):
			kept.Content = append(kept.Content, k, n.Content[i+1])
		case slices.Contains(sourceKeys, k.Value):
			r.Errorf(k, field+"."+k.Value, "a transactions source takes query, table or file (with database or format); its columns are named under transactions: in the rule file",
				"%s is for facts sources", k.Value)
		default:
			r.Errorf(k, field+"."+k.Value, nearOr(k.Value, transactionKeys, "expected one of: "+strings.Join(slices.Sorted(slices.Values(transactionKeys)), ", ")), "unknown key %q", k.Value)
		}
	}
	return &kept
}

// wireTransactions opens rule set r's transactions source, when it has
// one, as the Transactions of its first source in ss.
func (c *config) wireTransactions(ctx context.Context, getenv func(string) string, w *wiring, dbs map[string]sourceOpener, r ruleSetConfig, ss jobs.Sources) error {
	if r.Transactions == nil || len(ss) == 0 {
		return nil
	}
	src, err := c.openSource(ctx, getenv, w, dbs, *r.Transactions)
	if err != nil {
		return err
	}
	ss[0].Transactions = src
	return nil
}
