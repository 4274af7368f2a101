// The follow-up sections of a rule set: actions by status and class,
// coverage, effects, and the runs themselves.

// Action statuses in the order a follow-up goes through them, with what
// they mean and their colours.
var STATUS_ORDER = ['pending', 'claimed', 'done', 'failed', 'dead', 'held_out', 'suppressed', 'cancelled'];
var STATUS_TEXT = {pending: 'queued (pending)', claimed: 'being delivered (claimed)', done: 'delivered / done',
  failed: 'failed', dead: 'dead', cancelled: 'cancelled', suppressed: 'suppressed', held_out: 'held out'};
var STATUS_COLOR = {pending: '#5b8fd1', claimed: '#9cc3ea', done: '#3c9d5d', failed: '#e07b39', dead: '#8e1b10',
  cancelled: '#b8c0c8', suppressed: '#7c8794', held_out: '#7b5ea7'};

// Run statuses and their colours.
var RUN_COLOR = {succeeded: '#3c9d5d', blocked: '#e0a21b', failed: '#c23b22', skipped: '#9aa5b1', abandoned: '#8e1b10',
  cancelled: '#b8c0c8', running: '#5b8fd1', missed: '#6f4e37'};

// ordered lists the values present, those of order first, in its order.
function ordered(present, order) {
  return order.filter(function (s) { return present.indexOf(s) >= 0; })
    .concat(present.filter(function (s) { return order.indexOf(s) < 0; }));
}

// statusBars is a stacked bar chart: categories along one axis, a series
// per status, count(category, status) the value.
function statusBars(rep, kind, segmentation, categories, label, statuses, count, horizontal) {
  var catAxis = {type: 'category', data: categories, axisLabel: {formatter: label, interval: 0}};
  var valAxis = {type: 'value', axisLabel: {formatter: int}};
  if (horizontal) catAxis.inverse = true;
  return chart(meta(rep, kind, segmentation), {
    tooltip: {trigger: 'axis', axisPointer: {type: 'shadow'}},
    legend: {type: 'scroll', top: 0},
    grid: {left: 8, right: 24, top: 36, bottom: 8, containLabel: true},
    xAxis: horizontal ? valAxis : catAxis,
    yAxis: horizontal ? catAxis : valAxis,
    series: statuses.map(function (st) {
      return {id: st, name: STATUS_TEXT[st] || st, type: 'bar', stack: 'status', itemStyle: {color: STATUS_COLOR[st]},
        barMaxWidth: 36, data: categories.map(function (c) { return count(c, st); })};
    })
  }, horizontal && categories.length > 8 ? 'tall' : null);
}

function actionsSection(m) {
  var rep = m.rep, rows = rep.actions || [];
  var sec = section(anchor(rep, 'actions'), 'Actions by status and class',
    'The actions queued or withheld by the period\'s runs, by the status they have now and by the class the customer was in when the action was queued. ' +
    'Queued (pending) waits for delivery; delivered / done was delivered or reported done; failed was reported failed; dead gave up after its attempts; ' +
    'suppressed was over a contact limit; held out is the control group.');
  if (rows.length === 0) {
    sec.appendChild(empty('No action was queued or withheld in the period.'));
    return sec;
  }
  var statuses = ordered(uniq(rows, 'status'), STATUS_ORDER);
  var actions = uniq(rows, 'action');
  var first = m.segmentations.length ? m.segmentations[0].name : rows[0].segmentation;
  var sum = function (pred) { return rows.reduce(function (n, r) { return pred(r) ? n + r.count : n; }, 0); };
  sec.appendChild(el('h4', {}, ['By action (every class)']));
  sec.appendChild(statusBars(rep, 'actions-by-action', first, actions, String, statuses, function (a, st) {
    return sum(function (r) { return r.action === a && r.status === st && r.segmentation === first; });
  }));
  var grid = el('div', {class: 'grid'});
  m.segmentations.forEach(function (s) {
    var rs = rows.filter(function (r) { return r.segmentation === s.name; });
    var cats = [];
    actions.forEach(function (a) {
      m.segmentNames(s.name, uniq(rs, 'segment')).concat(['']).forEach(function (g) {
        if (rs.some(function (r) { return r.action === a && r.segment === g; })) cats.push(a + '/' + g);
      });
    });
    var label = function (c) {
      var i = c.indexOf('/');
      return c.slice(0, i) + ' · ' + m.segmentLabel(s.name, c.slice(i + 1));
    };
    grid.appendChild(el('div', {}, [el('h4', {}, ['By action and ' + m.segmentationLabel(s.name)]),
      statusBars(rep, 'actions', s.name, cats, label, statuses, function (c, st) {
        var i = c.indexOf('/');
        return sum(function (r) { return r.segmentation === s.name && r.action === c.slice(0, i) && r.segment === c.slice(i + 1) && r.status === st; });
      }, true)]));
  });
  sec.appendChild(grid);
  var pivot = [];
  rows.forEach(function (r) {
    var p = pivot.filter(function (x) { return x.action === r.action && x.segmentation === r.segmentation && x.segment === r.segment; })[0];
    if (!p) pivot.push(p = {action: r.action, segmentation: r.segmentation, segment: r.segment, counts: {}, total: 0});
    p.counts[r.status] = (p.counts[r.status] || 0) + r.count;
    p.total += r.count;
  });
  sec.appendChild(table('Actions by class and status', [
    {text: 'action', cell: function (p) { return p.action; }},
    {text: 'segmentation', cell: function (p) { return p.segmentation; }},
    {text: 'segment', cell: function (p) { return m.segmentLabel(p.segmentation, p.segment); }}
  ].concat(statuses.map(function (st) {
    return {text: STATUS_TEXT[st] || st, num: true, cell: function (p) { return int(p.counts[st] || 0); }};
  })).concat([{text: 'total', num: true, cell: function (p) { return int(p.total); }}]),
  pivot, csvButton(rep, 'actions', 'actions by class and status')));
  return sec;
}

function coverageSection(m) {
  var rep = m.rep, pts = rep.coverage || [];
  var sec = section(anchor(rep, 'coverage'), 'Coverage by class (覆盖率)',
    'For each segment with a coverage target: the share of its customers (due) who had a covering outcome within the target\'s window, after every succeeded apply.');
  if (pts.length === 0) {
    sec.appendChild(empty('No segment has a coverage target (coverage: in the rule file), or no succeeded apply recorded one.'));
    return sec;
  }
  var ids = uniq(pts, 'run_id'), labels = ids.map(function (id) {
    return day(pts.filter(function (p) { return p.run_id === id; })[0].as_of);
  });
  var targets = uniq(pts, function (p) { return p.segmentation + '.' + p.segment; });
  var name = function (t) { var i = t.indexOf('.'); return m.segmentLabel(t.slice(0, i), t.slice(i + 1)); };
  var at = function (t, id) {
    return pts.filter(function (p) { return p.run_id === id && p.segmentation + '.' + p.segment === t; })[0];
  };
  var last = ids[ids.length - 1];
  var latest = targets.map(function (t) { return at(t, last); }).filter(Boolean);
  sec.appendChild(el('div', {class: 'grid'}, [
    el('div', {}, [el('h4', {}, ['Covered share over runs']), chart(meta(rep, 'coverage'), {
      tooltip: {trigger: 'axis', valueFormatter: function (v) { return v === null || v === undefined ? '-' : pct(v); }},
      legend: {type: 'scroll', top: 0},
      grid: {left: 8, right: 36, top: 36, bottom: 8, containLabel: true},
      xAxis: runAxis(ids.map(String), labels),
      yAxis: {type: 'value', min: 0, max: 1, axisLabel: {formatter: function (v) { return Math.round(v * 100) + '%'; }}},
      series: targets.map(function (t) {
        return {id: t, name: name(t), type: 'line', symbolSize: 5, data: ids.map(function (id) { var p = at(t, id); return p ? p.share : null; })};
      })
    })]),
    el('div', {}, [el('h4', {}, ['After the latest run (' + labels[labels.length - 1] + ')']), chart(meta(rep, 'coverage-latest', null, 'latest'), {
      tooltip: {trigger: 'axis', axisPointer: {type: 'shadow'}},
      legend: {top: 0},
      grid: {left: 8, right: 24, top: 36, bottom: 8, containLabel: true},
      xAxis: {type: 'value', axisLabel: {formatter: int}},
      yAxis: {type: 'category', inverse: true, data: latest.map(function (p) { return p.segmentation + '.' + p.segment; }), axisLabel: {formatter: name}},
      series: [['covered', '#3c9d5d'], ['pending', '#9cc3ea'], ['overdue', '#c23b22']].map(function (s) {
        return {id: s[0], name: s[0], type: 'bar', stack: 'due', itemStyle: {color: s[1]}, barMaxWidth: 36,
          data: latest.map(function (p) { return p[s[0]]; })};
      })
    })])
  ]));
  sec.appendChild(table('Coverage after the latest run', [
    {text: 'segmentation', cell: function (p) { return p.segmentation; }},
    {text: 'segment', cell: function (p) { return m.segmentLabel(p.segmentation, p.segment); }},
    {text: 'every', num: true, cell: function (p) { return p.every_days + 'd'; }},
    {text: 'due', num: true, cell: function (p) { return int(p.due); }},
    {text: 'covered', num: true, cell: function (p) { return int(p.covered); }},
    {text: 'pending', num: true, cell: function (p) { return int(p.pending); }},
    {text: 'overdue', num: true, cell: function (p) { return int(p.overdue); }},
    {text: 'share', num: true, cell: function (p) { return p.due ? pct(p.share) : '-'; }},
    {text: 'covered by', cell: function (p) { return (p.by || []).join(', ') + ' (' + (p.counts || []).join(', ') + ')'; }}
  ], latest, csvButton(rep, 'coverage', 'coverage after every run')));
  return sec;
}

// points shows a difference of shares in percentage points.
function points(x) { var p = x * 100; return Math.abs(p) < 0.05 ? '0.0' : (p > 0 ? '+' : '') + p.toFixed(1); }

function effectsSection(m) {
  var rep = m.rep, ef = rep.effects;
  var sec = section(anchor(rep, 'effects'), 'Treated against held out',
    'For each action with a holdout: the share of the customers it was queued for (treated) and of those its holdout kept out (held out) who churned, some days after the decision, by the class they were in.');
  var rows = ef ? (ef.effects || []) : [];
  if (rows.length === 0) {
    sec.appendChild(empty(ef ? 'No decision of an action with a holdout is old enough to compare yet (or no action has a holdout).' :
      'No effects in this report: no action of the rule set has a holdout.'));
    return sec;
  }
  var horizons = uniq(rows, 'horizon_days').sort(function (a, b) { return a - b; });
  var h = horizons[horizons.length - 1];
  var shown = rows.filter(function (e) { return e.horizon_days === h && e.treated + e.held_out > 0; });
  var cat = function (e) { return e.action + '/' + e.segmentation + '.' + e.segment; };
  var label = function (c) {
    var e = shown.filter(function (x) { return cat(x) === c; })[0];
    return e.action + ' · ' + m.segmentLabel(e.segmentation, e.segment);
  };
  sec.appendChild(el('h4', {}, ['Churned ' + h + ' days after the decision']));
  sec.appendChild(chart(meta(rep, 'effects', null, String(h)), {
    tooltip: {trigger: 'axis', axisPointer: {type: 'shadow'}, valueFormatter: pct},
    legend: {top: 0},
    grid: {left: 8, right: 36, top: 36, bottom: 8, containLabel: true},
    xAxis: {type: 'category', data: shown.map(cat), axisLabel: {formatter: label, interval: 0, rotate: shown.length > 4 ? 25 : 0}},
    yAxis: {type: 'value', axisLabel: {formatter: function (v) { return Math.round(v * 100) + '%'; }}},
    series: [['treated', '#2f6fb2'], ['held_out', '#7b5ea7']].map(function (s) {
      return {id: s[0], name: s[0] === 'treated' ? 'treated' : 'held out', type: 'bar', itemStyle: {color: s[1]}, barMaxWidth: 30,
        data: shown.map(function (e) { return e.churned[s[0]]; })};
    })
  }));
  if (ef.method) sec.appendChild(el('p', {class: 'definition'}, ['Differences are treated minus held out, in percentage points, with a 95% confidence interval (' + ef.method + '). A comparison concludes only when both groups have at least ' + ef.min_group + ' customers.']));
  sec.appendChild(table('Every comparison', [
    {text: 'action', cell: function (e) { return e.action; }},
    {text: 'segmentation', cell: function (e) { return e.segmentation; }},
    {text: 'segment', cell: function (e) { return m.segmentLabel(e.segmentation, e.segment); }},
    {text: 'horizon', num: true, cell: function (e) { return e.horizon_days + 'd'; }},
    {text: 'treated', num: true, cell: function (e) { return int(e.treated); }},
    {text: 'held out', num: true, cell: function (e) { return int(e.held_out); }},
    {text: 'churned, treated', num: true, cell: function (e) { return pct(e.churned.treated); }},
    {text: 'churned, held out', num: true, cell: function (e) { return pct(e.churned.held_out); }},
    {text: 'churned diff (95% CI)', num: true, cell: function (e) { return points(e.churned.diff) + ' [' + points(e.churned.low) + ', ' + points(e.churned.high) + ']'; }},
    {text: 'result', cell: function (e) { return e.conclusive ? 'conclusive' : (e.note || 'inconclusive'); }}
  ], rows, csvButton(rep, 'effects', 'comparisons')));
  return sec;
}

function runsSection(m) {
  var rep = m.rep, runs = rep.runs || [];
  var sec = section(anchor(rep, 'runs'), 'Runs',
    'Every run of the period: how long it took (by status: blocked is a guard refusing to write), the rule errors it found, and why guards refused.');
  if (runs.length === 0) {
    sec.appendChild(empty('No run in the period.'));
    return sec;
  }
  var ids = runs.map(function (r) { return String(r.id); }), labels = runs.map(function (r) { return day(r.as_of); });
  var statuses = ordered(uniq(runs, 'status'), Object.keys(RUN_COLOR));
  var rules = [];
  runs.forEach(function (r) { Object.keys(r.errors_by_rule || {}).sort().forEach(function (k) { if (rules.indexOf(k) < 0) rules.push(k); }); });
  var axis = function () { return runAxis(ids, labels); };
  var tooltipRun = function (ps) {
    var r = runs[ps[0].dataIndex];
    return 'run ' + r.id + ' (' + r.kind + '), as of ' + day(r.as_of) + '<br>' + r.status + ', ' + seconds(r.seconds) +
      ps.filter(function (p) { return p.value; }).map(function (p) { return '<br>' + p.marker + p.seriesName + ': ' + p.value; }).join('');
  };
  sec.appendChild(el('div', {class: 'grid'}, [
    el('div', {}, [el('h4', {}, ['Run durations (seconds)']), chart(meta(rep, 'durations'), {
      tooltip: {trigger: 'axis', formatter: tooltipRun},
      legend: {top: 0},
      grid: {left: 8, right: 36, top: 36, bottom: 8, containLabel: true},
      xAxis: axis(), yAxis: {type: 'value'},
      series: statuses.map(function (st) {
        return {id: st, name: st, type: 'bar', stack: 'run', barMaxWidth: 24, itemStyle: {color: RUN_COLOR[st]},
          data: runs.map(function (r) { return r.status === st ? r.seconds : 0; })};
      })
    })]),
    el('div', {}, [el('h4', {}, ['Rule errors by rule']), rules.length === 0 ? empty('No rule errors in the period.') : chart(meta(rep, 'errors'), {
      tooltip: {trigger: 'axis', formatter: tooltipRun},
      legend: {type: 'scroll', top: 0},
      grid: {left: 8, right: 36, top: 36, bottom: 8, containLabel: true},
      xAxis: axis(), yAxis: {type: 'value', minInterval: 1},
      series: rules.map(function (k) {
        return {id: k, name: k, type: 'bar', stack: 'errors', barMaxWidth: 24,
          data: runs.map(function (r) { return (r.errors_by_rule || {})[k] || 0; })};
      })
    })])
  ]));
  var refused = runs.filter(function (r) { return r.status === 'blocked' || (r.guard_reasons || []).length || r.error; });
  sec.appendChild(refused.length === 0 ? el('p', {class: 'note'}, ['No guard refused a run, and no run failed, in the period.']) :
    table('Guard refusals and failures', [
      {text: 'run', num: true, cell: function (r) { return String(r.id); }},
      {text: 'as of', cell: function (r) { return day(r.as_of); }},
      {text: 'status', cell: function (r) { return r.status; }},
      {text: 'why', cell: function (r) { return (r.guard_reasons || []).concat(r.error ? [r.error] : []).join('; '); }}
    ], refused, csvButton(rep, 'runs', 'every run')));
  sec.appendChild(table('Every run', [
    {text: 'run', num: true, cell: function (r) { return String(r.id); }},
    {text: 'kind', cell: function (r) { return r.kind; }},
    {text: 'as of', cell: function (r) { return day(r.as_of); }},
    {text: 'status', cell: function (r) { return r.status; }},
    {text: 'started', cell: function (r) { return utcTime(r.started).slice(0, 19).replace('T', ' '); }},
    {text: 'took', num: true, cell: function (r) { return seconds(r.seconds); }},
    {text: 'customers', num: true, cell: function (r) { return int(r.customers); }},
    {text: 'changed', num: true, cell: function (r) { return int(r.changed); }},
    {text: 'actions', num: true, cell: function (r) { return int(r.actions); }},
    {text: 'errors', num: true, cell: function (r) { return int(r.errors); }}
  ], runs.slice().reverse(), csvButton(rep, 'runs', 'every run')));
  return sec;
}
