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
// fact that is not nullable, where it is the empty string; so is a cell
// of only spaces in a fact that is not text. A JSON Lines object must
// have the key; a missing nullable fact is null. Values are converted to
// the types of the rule set's facts schema (rules.Field.Coerce); JSON
// numbers keep their precision until then.
//
// A value that does not convert is the customer's problem, not the
// pass's: a number that is not one, or not finite (NaN, Inf, 1e999), a
// time column that holds 'n/a', a JSON value of the wrong type, an empty
// cell, null or missing field for a fact that is not nullable. The
// customer is handed out with that fact null and an engine.FactError
// naming the fact, the raw value and the file:line, such as
//
//	"n/a" is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z) (customers.csv:14)
//
// so that the run keeps its previous segments and counts it toward
// max_error_rate.
//
// A row that is no customer fails the pass: malformed CSV or JSON, a CSV
// row with another number of fields than its header, a missing, empty or
// null key (or one that is no string or number). A pass reports every
// such row at once, by file and line (the first 20), and stops handing
// out customers at the first one, so that a run fails rather than
// evaluates a partial export. A CSV header that lacks a column the rule
// set reads, or repeats one, fails the pass before any customer is handed
// out; a file that cannot be read on (a JSON line past 16 MiB, gzip data
// that is not readable or cut short) fails it where it stops.
//
// Files are streamed: memory is bounded by the batch size and the longest
// line (16 MiB at most for JSON Lines), not by the size of the files.
// Customers are handed out in file order, and the files in name order;
// the reader does not sort, and does not implement jobs.Ordered, so a run
// sorts it when it needs keys in order. Customers with equal keys come
// in the order the files hold them.
//
// A source and each pass's reader report the newest modification time of
// their files (Source.Modified, and a Modified method on the reader), for
// a fresh_within check on the file's own time.
package factsfile
