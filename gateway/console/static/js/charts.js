// Hand-written SVG charts. Each chart is an image with a title and a description for screen
// readers, and its numbers are also given as a table.

import { h, svg } from "./dom.js";

const W = 640;
const H = 260;
const M = { top: 16, right: 12, bottom: 54, left: 64 };
let seq = 0;

/**
 * niceMax rounds the largest value up to a round number for the y axis. opts.integer keeps
 * the four ticks on whole numbers (counts); opts.floor is the smallest axis (so that an
 * all-zero series still has a readable scale).
 */
function niceMax(v, opts = {}) {
  v = Math.max(v, opts.floor || 0);
  if (opts.integer) return Math.max(4, Math.ceil(v / 4) * 4);
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function yAxis(max, fmt) {
  const ticks = [];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = M.top + (H - M.top - M.bottom) * (1 - i / 4);
    ticks.push(svg("line", { x1: M.left, x2: W - M.right, y1: y, y2: y, class: "gridline" }),
      svg("text", { x: M.left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, fmt(v)));
  }
  return ticks;
}

function legend(series) {
  return h("ul", { class: "legend" }, series.map((s, i) =>
    h("li", {}, h("span", { class: "swatch s" + (s.cls ?? i), "aria-hidden": "true" }), s.name)));
}

function dataTable(title, categories, series, fmt) {
  return h("details", { class: "chart-data" }, h("summary", {}, "Show the numbers"),
    h("div", { class: "table-wrap" }, h("table", { class: "data" },
      h("caption", { class: "visually-hidden" }, title),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, ""), series.map((s) => h("th", { scope: "col" }, s.name)))),
      h("tbody", {}, categories.map((c, i) => h("tr", {}, h("th", { scope: "row" }, c),
        series.map((s) => h("td", { class: "num" }, fmt(s.values[i])))))))));
}

function frame(title, desc, body) {
  const id = "chart" + ++seq;
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": `${id}-t ${id}-d` },
    svg("title", { id: id + "-t" }, title), svg("desc", { id: id + "-d" }, desc), body);
}

function xLabel(x, text, n) {
  const rotate = n > 8;
  return svg("text", {
    x, y: H - M.bottom + 16, class: "tick", "text-anchor": rotate ? "end" : "middle",
    transform: rotate ? `rotate(-35 ${x} ${H - M.bottom + 16})` : null,
  }, text);
}

/**
 * barChart draws grouped bars: categories along x, one bar per series in each group.
 * series: [{name, values}]; fmt renders values for the axis and the table; integer and floor
 * shape the axis (see niceMax).
 */
export function barChart({ title, categories, series, fmt = String, integer = false, floor = 0 }) {
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.map((v) => v || 0))), { integer, floor });
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const group = plotW / Math.max(1, categories.length);
  const bar = Math.max(2, (group * 0.8) / Math.max(1, series.length));
  const bars = [];
  categories.forEach((c, i) => {
    series.forEach((s, j) => {
      const v = s.values[i] || 0;
      const bh = (plotH * v) / max;
      const x = M.left + i * group + group * 0.1 + j * bar;
      bars.push(svg("rect", { x, y: M.top + plotH - bh, width: bar - 1, height: bh, class: "bar s" + (s.cls ?? j) },
        svg("title", {}, `${s.name}, ${c}: ${fmt(v)}`)));
    });
    bars.push(xLabel(M.left + i * group + group / 2, c, categories.length));
  });
  const desc = series.map((s) => `${s.name}: ` + categories.map((c, i) => `${c} ${fmt(s.values[i] || 0)}`).join(", ")).join("; ");
  return h("figure", { class: "chart-box" },
    frame(title, desc, [yAxis(max, fmt), bars, svg("line", { x1: M.left, x2: W - M.right, y1: M.top + plotH, y2: M.top + plotH, class: "axis" })]),
    h("figcaption", {}, title), series.length > 1 ? legend(series) : null, dataTable(title, categories, series, fmt));
}

/** lineChart draws one line per series over the categories (for example days). */
export function lineChart({ title, categories, series, fmt = String, integer = false }) {
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)), { integer });
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const step = categories.length > 1 ? plotW / (categories.length - 1) : 0;
  const x = (i) => M.left + (categories.length > 1 ? i * step : plotW / 2);
  const y = (v) => M.top + plotH - (plotH * v) / max;
  const lines = series.map((s, j) => svg("g", { class: "series s" + (s.cls ?? j) },
    svg("polyline", { points: s.values.map((v, i) => `${x(i)},${y(v)}`).join(" "), class: "line" }),
    s.values.map((v, i) => svg("circle", { cx: x(i), cy: y(v), r: 3, class: "dot" }, svg("title", {}, `${s.name}, ${categories[i]}: ${fmt(v)}`)))));
  const every = Math.ceil(categories.length / 12);
  const labels = categories.map((c, i) => (i % every === 0 ? xLabel(x(i), c, Math.min(categories.length, 13)) : null));
  const desc = series.map((s) => `${s.name}: total ${fmt(s.values.reduce((a, b) => a + b, 0))}`).join("; ");
  return h("figure", { class: "chart-box" },
    frame(title, desc, [yAxis(max, fmt), lines, labels, svg("line", { x1: M.left, x2: W - M.right, y1: M.top + plotH, y2: M.top + plotH, class: "axis" })]),
    h("figcaption", {}, title), legend(series), dataTable(title, categories, series, fmt));
}
