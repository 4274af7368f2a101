// Package factsfile is a facts source on file exports: customer facts in
// CSV or JSON Lines files, for previews in CI without database access and
// for rule sets whose facts arrive as a nightly export. It reads facts
// only; each customer's previous state comes from a state store (or
// jobs.NoState), joined on the key by the run.
//
// A source is one file or a glob (exports/customers-*.csv.gz) whose files
// are read in name order as one customer list. Each file's format comes
// from its extension — .csv, or .jsonl, .ndjson or .json for one JSON
// object per line — unless Open is given one. A file is decompressed while
// it is read when it is gzip data, whatever its name; .gz may follow any
// of the extensions.
//
// A CSV file's first line is its header, read on its own for every file,
// so columns may come in any order; every file must have the rule set's
// key and a column per fact. An empty cell is null, except for a string
// fact that is not nullable, where it is the empty string. A JSON Lines
// object must have the key; a missing nullable fact is null. Values are
// converted to the types of the rule set's facts schema
// (rules.Field.Coerce); JSON numbers keep their precision until then.
//
// Files are streamed: memory is bounded by the batch size and the longest
// line (16 MiB at most for JSON Lines), not by the size of the files. A
// pass reports every bad row at once, by file and line, and stops handing
// out customers at the first one, so that a run fails rather than
// evaluates a partial export.
package factsfile
