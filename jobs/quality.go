package jobs

// QualityReport is what a run found out about its facts before (and
// while) evaluating them: one entry per facts source, the declared checks
// on facts and sources, duplicates and customers who left the source. It
// is part of the PlanReport, and what `tierflow check --data` prints.
type QualityReport struct {
	// Failed is true when a check failed: an apply is refused unless the
	// run allows failed checks.
	Failed bool `json:"failed"`
	// Sources are the facts sources in merge order; the first is the
	// primary one, whose customers are the run's population.
	Sources []SourceQuality `json:"sources"`
	// Facts hold per-fact counts and the outcome of the fact's checks, in
	// schema order.
	Facts []FactQuality `json:"facts"`
	// Absent is the number of customers the state knows that no source
	// returned; Left is how many of them left their segments
	// (on_missing: exit).
	Absent int `json:"absent"`
	Left   int `json:"left"`
	// Checks lists every declared check and its outcome, failed first.
	Checks []CheckResult `json:"checks"`
}

// SourceQuality is one facts source's counts.
type SourceQuality struct {
	// Name is the source's name: "primary", or as configured.
	Name string `json:"name"`
	// Rows is the number of rows the source returned, duplicates
	// included; Customers the number of distinct keys kept.
	Rows      int64 `json:"rows"`
	Customers int64 `json:"customers"`
	// Duplicates is the number of rows whose key an earlier row had;
	// DuplicateKeys are the first such keys, for the report.
	Duplicates    int64    `json:"duplicates"`
	DuplicateKeys []string `json:"duplicate_keys,omitempty"`
	// OnDuplicate is what the source does with them: error, first, last.
	OnDuplicate string `json:"on_duplicate"`
	// Unmatched counts rows of a non-primary source whose key is not a
	// customer of the primary source; they are ignored.
	Unmatched int64 `json:"unmatched,omitempty"`
	// Newest is the newest value of the source's freshness fact, or the
	// modification time of its newest file, when a freshness check is
	// declared; empty otherwise.
	Newest string `json:"newest,omitempty"`
}

// FactQuality is one fact's counts over the run's customers.
type FactQuality struct {
	Name string `json:"name"`
	// Source is the name of the source the fact comes from.
	Source string `json:"source"`
	// Nulls counts customers for whom the fact is null (a customer missing
	// from a non-primary source included); Invalid counts values the
	// reader could not convert (per-customer errors).
	Nulls   int64 `json:"nulls"`
	Invalid int64 `json:"invalid"`
	// Violations counts values outside the declared min, max or one_of,
	// or repeating a unique fact's value.
	Violations int64 `json:"violations"`
}

// CheckResult is one declared check's outcome.
type CheckResult struct {
	// Check names it the way it is declared: "facts.spend_12m.min",
	// "sources.primary.min_rows", "sources.crm.duplicates".
	Check  string `json:"check"`
	Passed bool   `json:"passed"`
	// Count is the number of customers or rows that failed it (or the
	// measured value, for row-count and freshness checks); Message says
	// what was found against what was declared, and how to fix it.
	Count    int64    `json:"count"`
	Message  string   `json:"message"`
	Examples []string `json:"examples,omitempty"`
}
