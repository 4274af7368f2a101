// Package gen generates synthetic customer facts for demos, tests and
// benchmarks: a seedable, streaming generator whose customers look like a
// real shop's (a long tail of spend, seasonality, regions and channels,
// customers whose spending drops or stops), so that every segment and
// every action of the example rule sets has customers to move.
//
// [Retail] produces the facts of examples/retail/retail.yaml, and
// [KeyAccounts] those of the B2B examples (key_accounts.yaml and
// churn_signals.yaml). Both stream one customer at a time, so ten million
// customers take no more memory than a thousand. The same [Config] always
// gives the same customers; [Config.Advance] gives the same customers some
// months later, with the purchases they made in between, for demos that
// run a rule set again and show the moves and actions.
//
// The writers ([WriteCSV], [WriteJSONL]) and loaders ([LoadPostgres],
// [LoadSQL]) take any [Rows], so they serve both generators.
//
// docs/demo-data.md describes the distributions and how to use the
// generator from the command line (tierflow gen).
package gen
