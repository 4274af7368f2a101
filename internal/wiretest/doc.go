// Package wiretest holds the tests that run a facts source of one kind
// against a state store of another: facts in one PostgreSQL database and
// state in a second, CSV exports into SQLite and into PostgreSQL, a SQLite
// file of facts into PostgreSQL. Each must reach exactly the state that
// the co-located path (facts and state in one database, joined in one
// query) reaches. It is the one place that imports every store.
package wiretest
