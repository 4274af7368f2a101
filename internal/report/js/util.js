// Helpers every section uses: elements, numbers, times, labels. The page's
// files share one function scope (report.go wraps them); only main.js
// sets a global, window.tierflow.

// FONT is page.css's --font, for the charts' canvas text.
var FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", ' +
  '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", ' +
  '"WenQuanYi Micro Hei", "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", "Meiryo", ' +
  '"Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic", sans-serif';

// el makes an element: attrs are attributes (class, data-*, ...) or, for
// on* keys, listeners; children are nodes or strings.
function el(tag, attrs, children) {
  var e = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) {
    var v = attrs[k];
    if (v === undefined || v === null || v === false) return;
    if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  });
  (children || []).forEach(function (c) {
    if (c === undefined || c === null) return;
    e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  });
  return e;
}

var intFormat = new Intl.NumberFormat('en-US');

// int shows a whole number with thousands separators: 1,234.
function int(n) { return intFormat.format(n || 0); }

// pct shows a share (0 to 1) as a percentage with one decimal.
function pct(x) { return (x * 100).toFixed(1) + '%'; }

// seconds shows a duration in seconds.
function seconds(s) {
  if (!s) return '-';
  if (s < 1) return Math.round(s * 1000) + ' ms';
  if (s < 120) return s.toFixed(1) + ' s';
  return (s / 60).toFixed(1) + ' min';
}

// day is the date of an RFC 3339 time, in UTC: 2024-07-01.
function day(t) { return utcTime(t).slice(0, 10); }

// utcTime is an RFC 3339 time as Go's time.RFC3339Nano writes it in UTC
// (the layout of the CSV files): offsets are folded into the time, the
// fraction kept digit for digit, trailing zeros dropped.
function utcTime(t) {
  if (!t) return '';
  var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|([+-])(\d\d):(\d\d))$/.exec(t);
  if (!m) return t;
  var frac = (m[7] || '').replace(/0+$/, '');
  if (frac === '.') frac = '';
  if (m[8] === 'Z') return t.slice(0, 19) + frac + 'Z';
  var off = (m[9] === '+' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  var d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]) + off, Number(m[6])));
  return d.toISOString().slice(0, 19) + frac + 'Z';
}

// goFloat formats a number as Go's strconv.FormatFloat(f, 'f', -1, 64):
// the shortest digits that read back the same, never an exponent.
function goFloat(x) {
  var s = String(x);
  var m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  var digits = m[2] + (m[3] || ''), exp = Number(m[4]);
  if (exp < 0) return m[1] + '0.' + '0'.repeat(-exp - 1) + digits;
  return m[1] + digits + '0'.repeat(Math.max(0, exp - digits.length + 1));
}

// labelOf is how the page names something with a name and a label: the
// label, else the name.
function labelOf(x) { return x ? (x.label || x.name) : ''; }

// Model indexes one class report for the sections: segmentations and
// segments by name, runs by id.
function Model(rep) {
  this.rep = rep;
  this.segmentations = rep.segmentations || [];
  this.bySegmentation = {};
  this.segmentOf = {};
  var self = this;
  this.segmentations.forEach(function (s) {
    self.bySegmentation[s.name] = s;
    var m = {};
    (s.segments || []).forEach(function (g) { m[g.name] = g; });
    self.segmentOf[s.name] = m;
  });
  this.runs = rep.runs || [];
  this.runByID = {};
  this.runs.forEach(function (r) { self.runByID[r.id] = r; });
}

// segmentLabel is a segment's label, "(none)" for no segment.
Model.prototype.segmentLabel = function (segmentation, segment) {
  if (!segment) return '(none)';
  var g = (this.segmentOf[segmentation] || {})[segment];
  return g ? labelOf(g) : segment;
};

// segmentationLabel is "客户价值等级 (value_tier)", or the name alone.
Model.prototype.segmentationLabel = function (name) {
  var s = this.bySegmentation[name];
  return s && s.label && s.label !== name ? s.label + ' (' + name + ')' : name;
};

// segmentNames lists a segmentation's segments in rank order, then any
// others that extra names (segments the rules no longer define).
Model.prototype.segmentNames = function (segmentation, extra) {
  var s = this.bySegmentation[segmentation];
  var names = s ? s.segments.map(function (g) { return g.name; }) : [];
  (extra || []).forEach(function (n) { if (n && names.indexOf(n) < 0) names.push(n); });
  return names;
};

// uniq lists the distinct values of key in rows, in first-seen order.
function uniq(rows, key) {
  var seen = {}, out = [];
  rows.forEach(function (r) {
    var v = typeof key === 'function' ? key(r) : r[key];
    if (!Object.prototype.hasOwnProperty.call(seen, v)) { seen[v] = true; out.push(v); }
  });
  return out;
}

// section makes a card with a title, a line of explanation and an id.
function section(id, title, intro) {
  return el('section', {class: 'card', id: id}, [el('h3', {}, [title]), intro ? el('p', {class: 'note'}, [intro]) : null]);
}
