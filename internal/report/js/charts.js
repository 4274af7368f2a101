// Charts: every section asks chart() for a placeholder with its option;
// drawCharts draws them all once the page is built, and says when every
// one has rendered.

// PALETTE colours segments in rank order.
var PALETTE = ['#2f6fb2', '#e07b39', '#3c9d5d', '#c23b22', '#7b5ea7', '#8c6d4f', '#d16ba5', '#6f7f8f', '#b5a33a', '#2aa1b3'];

// Move directions: up to a higher rank, down, in from no segment, out.
var DIRECTION_COLOR = {up: '#2e8540', down: '#c23b22', 'in': '#5b7fa6', out: '#8a94a0'};
var DIRECTION_TEXT = {up: 'upgrade', down: 'downgrade', 'in': 'entered', out: 'left'};

// CHARTS holds every chart of the page: its element, option, what it
// shows (meta: kind, ruleset, segmentation, scope) and, once drawn, the
// ECharts instance.
var CHARTS = [];

// chart returns the element a chart is drawn in; cls sizes it (tall,
// short).
function chart(meta, option, cls) {
  var div = el('div', {class: 'chart' + (cls ? ' ' + cls : ''), 'data-chart': meta.kind, 'data-ruleset': meta.ruleset,
    'data-segmentation': meta.segmentation, 'data-scope': meta.scope});
  CHARTS.push({el: div, option: option, meta: meta});
  return div;
}

// empty stands in for a chart with nothing to show.
function empty(text) { return el('p', {class: 'empty'}, [text]); }

// withDefaults gives every option the page's font and turns animation
// off: a report is read, not watched, and it renders at once.
function withDefaults(option) {
  var o = Object.assign({animation: false, color: PALETTE, textStyle: {fontFamily: FONT}}, option);
  o.tooltip = Object.assign({confine: true, textStyle: {fontFamily: FONT}}, option.tooltip || {});
  return o;
}

// drawCharts draws every chart and calls done once all have rendered.
function drawCharts(done) {
  var left = CHARTS.length;
  if (left === 0) {
    done();
    return;
  }
  CHARTS.forEach(function (c) {
    c.chart = echarts.init(c.el, null, {renderer: 'canvas'});
    var finished = function () {
      c.chart.off('finished', finished);
      if (--left === 0) done();
    };
    c.chart.on('finished', finished);
    c.chart.setOption(withDefaults(c.option));
  });
  window.addEventListener('resize', function () { CHARTS.forEach(function (c) { c.chart.resize(); }); });
}

// runAxis is a category axis of runs, labelled by as-of date.
function runAxis(categories, labels) {
  return {type: 'category', data: categories, axisLabel: {formatter: function (v, i) { return labels[i]; }}};
}

// shade is a colour of direction dir, darker as share (0 to 1) grows.
function shade(dir, share) {
  var hue = {up: 140, down: 6, 'in': 212, out: 210}[dir];
  var sat = dir === 'out' ? 10 : dir === 'in' ? 35 : 55;
  var light = 88 - Math.round(Math.sqrt(share) * 50);
  return 'hsl(' + hue + ',' + sat + '%,' + light + '%)';
}
