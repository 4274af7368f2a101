package jobs

import "github.com/tierflow/tierflow/internal/predict"

// How a run computed its facts derived from transactions
// (DerivedReport.Method).
const (
	// DerivedSQL is one aggregate query on the state database.
	DerivedSQL = "sql"
	// DerivedStream is tierflow's own pass over the transactions, in
	// key order.
	DerivedStream = "stream"
)

// DerivedReport is what a run's derivation found: how the facts derived
// from transactions were computed, the population columns, and the fits
// of the models behind the predicted facts. It is part of the
// PlanReport, and so of the run record.
type DerivedReport struct {
	// Method is DerivedSQL or DerivedStream; "" when no fact is derived
	// from transactions.
	Method string `json:"method,omitempty"`
	// Customers is the number of the run's customers with transactions,
	// counted where the run makes a first pass (population and predicted
	// facts) or joins the transactions in one.
	Customers int64 `json:"customers_with_transactions"`
	// Population describes each population column, in declaration order.
	Population []PopulationReport `json:"population,omitempty"`
	// Models are the fits of the predicted facts' models: BG/NBD, then
	// Gamma-Gamma when expected_spend is declared.
	Models []predict.FitReport `json:"models,omitempty"`
}

// PopulationReport is one population column of a run.
type PopulationReport struct {
	// Fact is the fact ranked ("days since last_order_at" for rfm's
	// recency of a time).
	Fact string `json:"fact"`
	// Values is the number of customers with a value; Missing those
	// without (null), who get no rank, bin or class.
	Values  int64 `json:"values"`
	Missing int64 `json:"missing"`
	// Exact is false when the column holds more values than it keeps
	// exactly and lookups come from a sketch, whose rank error
	// RankErrorBound bounds (a count of values; 0 when exact).
	Exact          bool    `json:"exact"`
	RankErrorBound float64 `json:"rank_error_bound"`
}
