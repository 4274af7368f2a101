// main draws the page from its data, then marks it charts-ready, and
// publishes window.tierflow for readers and tests.

// figures are the headline numbers of a rule set.
function figures(m) {
  var rep = m.rep, runs = m.runs;
  var applies = runs.filter(function (r) { return r.status === 'succeeded' && r.kind === 'apply'; });
  var last = applies[applies.length - 1];
  var queued = (rep.actions || []).reduce(function (n, a) {
    return a.segmentation === (m.segmentations[0] || {}).name ? n + a.count : n;
  }, 0);
  var fig = function (value, text) { return el('div', {class: 'figure'}, [el('b', {}, [value]), el('span', {}, [text])]); };
  return el('div', {class: 'figures'}, [
    fig(last ? day(last.as_of) : '-', 'latest succeeded apply'),
    fig(last ? int(last.customers) : '-', 'customers then'),
    fig(int(runs.length), 'runs in the period'),
    fig(int(runs.filter(function (r) { return r.status === 'blocked'; }).length), 'refused by a guard'),
    fig(int(runs.filter(function (r) { return r.status === 'failed' || r.status === 'abandoned'; }).length), 'failed'),
    fig(int(queued), 'actions decided')
  ]);
}

var SECTIONS = [
  ['sizes', 'Class sizes', sizesSection],
  ['moves', 'Moves', movesSection],
  ['churn', 'Churn', churnSection],
  ['actions', 'Actions', actionsSection],
  ['coverage', 'Coverage', coverageSection],
  ['effects', 'Treated vs held out', effectsSection],
  ['runs', 'Runs', runsSection]
];

// ruleSet draws one class report.
function ruleSet(rep) {
  var m = new Model(rep);
  var name = rep.label && rep.label !== rep.ruleset ? rep.label + ' (' + rep.ruleset + ')' : rep.ruleset;
  var root = el('article', {class: 'ruleset', id: 'rs-' + rep.ruleset, 'data-ruleset': rep.ruleset}, [
    el('h2', {}, [name]),
    el('p', {class: 'meta'}, ['Runs started from ' + day(rep.from) + ' to ' + day(rep.until) + '.']),
    figures(m),
    el('nav', {class: 'ruleset-nav'}, SECTIONS.map(function (s) { return el('a', {href: '#' + anchor(rep, s[0])}, [s[1]]); }))
  ]);
  SECTIONS.forEach(function (s) { root.appendChild(s[2](m)); });
  return root;
}

function main() {
  var data = JSON.parse(document.getElementById('tierflow-data').textContent);
  CSV_COLUMNS = data.csv_columns || {};
  var T = window.tierflow = {ready: false, readyMs: null, charts: CHARTS, reports: [], tables: Object.keys(CSV_COLUMNS)};
  var reports = data.reports || [];
  T.data = data;
  T.reports = reports;
  T.csv = function (ruleset, name) { return csvText(byName(ruleset), name); };
  T.download = function (ruleset, name) { downloadCSV(byName(ruleset), name); };
  function byName(ruleset) {
    var r = reports.filter(function (x) { return x.ruleset === ruleset; })[0];
    if (!r) throw new Error('no rule set ' + ruleset + ' in this report');
    return r;
  }
  document.getElementById('page-meta').textContent = 'Made ' + utcTime(data.generated).slice(0, 16).replace('T', ' ') +
    ' UTC by tierflow ' + (data.tierflow || '') + ', from the runs recorded in its state store.';
  if (reports.length > 1) {
    var nav = document.getElementById('page-nav');
    reports.forEach(function (r) { nav.appendChild(el('a', {href: '#rs-' + r.ruleset}, [r.label || r.ruleset])); });
  }
  var main = document.getElementById('reports');
  if (reports.length === 0) main.appendChild(empty('No rule set in this report.'));
  reports.forEach(function (rep) { main.appendChild(ruleSet(rep)); });
  drawCharts(function () {
    T.readyMs = performance.now();
    performance.mark('charts-ready');
    document.documentElement.setAttribute('data-charts-ready', T.readyMs.toFixed(1));
    T.ready = true;
  });
}

main();
