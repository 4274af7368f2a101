// The CSV of each table, made in the page from its data, with the columns
// and formatting of `tierflow report --format csv --table NAME`
// (views.ClassReportCSV): a header row, one row per record, times in RFC
// 3339 UTC, numbers as Go prints them, fields quoted as encoding/csv does.

function str(v) { return v === undefined || v === null ? '' : String(v); }
function num(v) { return goFloat(v || 0); }
function list(v) { return (v || []).join('; '); }
function id(v) { return v ? String(v) : ''; }

// byRule is rule errors by rule, "rule=n; ..." in rule order.
function byRule(m) { return Object.keys(m || {}).sort().map(function (k) { return k + '=' + m[k]; }).join('; '); }

// comparisonCells are one comparison's treated, held_out, diff, low and
// high shares.
function comparisonCells(c) { c = c || {}; return [num(c.treated), num(c.held_out), num(c.diff), num(c.low), num(c.high)]; }

// CSV_ROWS make each table's rows, by the name --table takes; the
// header of each is the page data's csv_columns (views.ClassReportCSVColumns).
var CSV_ROWS = {
  runs: function (rep) {
    return (rep.runs || []).map(function (r) {
      return [str(r.id), r.kind, utcTime(r.as_of), r.status, utcTime(r.started), num(r.seconds), str(r.customers), str(r.changed),
        str(r.actions), str(r.errors), byRule(r.errors_by_rule), list(r.guard_reasons), str(r.error)];
    });
  },
  sizes: function (rep) {
    return (rep.sizes || []).map(function (p) {
      return [str(p.run_id), utcTime(p.as_of), p.segmentation, p.segment, str(p.customers)];
    });
  },
  moves: function (rep) {
    return (rep.moves || []).map(function (m) {
      return [m.scope, id(m.run_id), m.segmentation, m.from, m.to, str(m.count), m.direction];
    });
  },
  churn: function (rep) {
    return ((rep.churn && rep.churn.rates) || []).map(function (c) {
      return [utcTime(c.period_start), utcTime(c.period_end), c.segmentation, c.segment, str(c.at_start), str(c.churned), num(c.rate),
        str(c.applies || 0), str(c.uncounted || 0)];
    });
  },
  actions: function (rep) {
    return (rep.actions || []).map(function (a) { return [a.action, a.segmentation, a.segment, a.status, str(a.count)]; });
  },
  coverage: function (rep) {
    return (rep.coverage || []).map(function (c) {
      return [str(c.run_id), utcTime(c.as_of), c.segmentation, c.segment, str(c.label), str(c.every_days), list(c.by), list(c.counts),
        str(c.due), str(c.covered), str(c.pending), str(c.overdue), num(c.share)];
    });
  },
  effects: function (rep) {
    var ef = rep.effects;
    if (!ef) return [];
    var rows = (ef.effects || []).map(function (e) {
      return [ef.ruleset, 'effect', e.action, e.segmentation, e.segment, str(e.horizon_days), str(e.treated), str(e.held_out)]
        .concat(comparisonCells(e.churned), comparisonCells(e.stayed), comparisonCells(e.moved_up),
          [e.conclusive ? 'true' : 'false', str(e.note), '', '', num(e.cost), num(e.kept_per_cost)]);
    });
    var width = rows.length ? rows[0].length : 8 + 15 + 6;
    return rows.concat((ef.costs || []).map(function (c) {
      var row = [ef.ruleset, 'cost', c.action, c.segmentation, c.segment];
      while (row.length < width - 4) row.push('');
      return row.concat([str(c.queued), num(c.unit_cost), num(c.cost), '']);
    }));
  }
};

// CSV_COLUMNS are the tables' headers, set by main from the page data.
var CSV_COLUMNS = {};

// csvField quotes a field the way Go's encoding/csv does.
function csvField(s) {
  if (s === '') return s;
  var quote = s === '\\.' || /[",\r\n]/.test(s) || /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/.test(s);
  return quote ? '"' + s.replace(/"/g, '""') + '"' : s;
}

// csvText is one table of one report as CSV.
function csvText(rep, name) {
  var header = CSV_COLUMNS[name], rows = CSV_ROWS[name];
  if (!header || !rows) throw new Error('no table ' + name + '; the tables are ' + Object.keys(CSV_COLUMNS).join(', '));
  return [header].concat(rows(rep)).map(function (row) {
    if (row.length !== header.length) throw new Error('table ' + name + ': a row of ' + row.length + ' cells under ' + header.length + ' columns');
    return row.map(csvField).join(',') + '\n';
  }).join('');
}

// downloadCSV saves a table as RULESET-TABLE.csv.
function downloadCSV(rep, name) {
  var blob = new Blob([csvText(rep, name)], {type: 'text/csv;charset=utf-8'});
  var a = el('a', {href: URL.createObjectURL(blob), download: rep.ruleset + '-' + name + '.csv'});
  document.body.appendChild(a);
  a.click();
  setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// csvButton is the button that downloads a table.
function csvButton(rep, name, what) {
  return el('button', {class: 'csv', type: 'button', 'data-csv': name, 'data-ruleset': rep.ruleset,
    title: 'Download ' + what + ' as CSV (the columns of tierflow report --format csv --table ' + name + ')',
    onclick: function () { downloadCSV(rep, name); }}, ['CSV: ' + what]);
}

// table renders rows under a heading with a CSV button. columns are
// {text, num (right-aligned), cell(row) -> string, cls(row) -> class}.
function table(title, columns, rows, csv, rowClass) {
  var head = el('tr', {}, columns.map(function (c) { return el('th', {class: c.num ? 'num' : null}, [c.text]); }));
  var body = el('tbody', {}, rows.map(function (r) {
    return el('tr', {class: rowClass ? rowClass(r) : null}, columns.map(function (c) {
      return el('td', {class: (c.num ? 'num ' : '') + (c.cls || '') || null}, [c.cell(r)]);
    }));
  }));
  return el('div', {class: 'table'}, [
    el('div', {class: 'table-head'}, [el('h4', {}, [title]), csv]),
    el('div', {class: 'table-wrap'}, [el('table', {}, [el('thead', {}, [head]), body])])
  ]);
}
