// Package views renders what tierflow's commands print: plan and apply
// reports, rule-change previews, explanations, data-quality reports
// (check --data), runs, a customer's history, the action queue, coverage,
// effect and cost reports (tierflow coverage, tierflow effects) and class
// sizes over time (tierflow sizes); and the JSON and CSV of a class
// report (tierflow report: ClassReportJSON, ClassReportCSV). A
// command picks the format once, with one of the constructors (NewPlan,
// NewExplain, NewQuality, NewTable), from the name given to
// --format; the constructor rejects an unknown name with the formats the
// output has, before the command does any work. Every method then writes
// in that format, the way terraform's internal/command/views picks a
// human or a JSON view in one place.
//
// Text is for a terminal; markdown for a pull-request comment or a job
// summary; JSON for machines, one document per command, versioned by
// format_version (docs/plan-json.md for plans, applies and previews,
// docs/output.md for the rest); CSV, for data-quality reports and the
// tabular outputs, a header row and one row per record.
//
// The package converts engine and store types into its own JSON shapes,
// so that the documented output does not change when a Go type does; a
// plan report, and its quality report that check --data prints too, are
// already jobs' documented JSON (jobs.PlanReport, jobs.QualityReport),
// and so are an effects report (jobs.EffectsReport) and a class report
// (jobs.ClassReport).
package views
