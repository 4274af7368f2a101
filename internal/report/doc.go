// Package report renders class reports (jobs.ClassReport) as one
// self-contained HTML page: what `tierflow report` writes to a file and
// `tierflow serve` shows at /report.
//
// The page needs no network: its styles, its scripts and the chart
// library (Apache ECharts, embedded from echarts/ with its license) are
// inlined, and it relies on the system's fonts, with a font stack that
// covers Chinese, Japanese and Korean labels. The reports go in as JSON,
// in a <script type="application/json"> element, and a small hand-written
// script (js/) draws every chart and table from it and makes each table's
// CSV in the page, with the columns of `tierflow report --format csv`.
// When every chart has rendered, the script marks the page charts-ready
// (a performance mark, and data-charts-ready on the html element), which
// tests and benchmarks wait for.
//
// docs/report.md describes the charts and how to read them.
package report
