// Reports: settlement per merchant and period, merchant credit, order flow over time and the
// time from payment to release (the delay the product exists to shorten).

import { h, replace } from "../dom.js";
import { call, session } from "../api.js";
import { money, day, duration } from "../format.js";
import { barChart, lineChart } from "../charts.js";
import { table, card, notice, facts } from "../ui.js";

/** orders reads up to max orders (every status) for the flow and delay reports. */
async function loadOrders(max = 1000) {
  const out = [];
  let bookmark = "";
  do {
    const res = await call("GET", "/api/v1/orders", { query: { pageSize: 100, bookmark } });
    out.push(...(res.items || []));
    bookmark = res.bookmark || "";
  } while (bookmark && out.length < max);
  return out;
}

/** periods splits [from, to] (YYYY-MM-DD, inclusive) into days, weeks or months, at most max. */
function periods(from, to, unit, max = 24) {
  const out = [];
  let start = new Date(from + "T00:00:00");
  const end = new Date(to + "T00:00:00");
  while (start <= end && out.length < max) {
    const next = new Date(start);
    if (unit === "month") next.setMonth(next.getMonth() + 1, 1);
    else next.setDate(next.getDate() + (unit === "week" ? 7 : 1));
    const last = new Date(Math.min(next.getTime() - 86400000, end.getTime()));
    out.push({ from: day(start), to: day(last), label: unit === "month" ? day(start).slice(0, 7) : day(start).slice(5) });
    start = next;
  }
  return out;
}

/** pool runs tasks with at most n in flight. */
async function pool(tasks, n = 6) {
  const results = new Array(tasks.length);
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, async () => {
    while (i < tasks.length) {
      const k = i++;
      results[k] = await tasks[k]();
    }
  }));
  return results;
}

async function settlementSection(out, merchants, from, to, currency, unit) {
  const ps = periods(from, to, unit);
  const tasks = [];
  for (const m of merchants) for (const p of ps) tasks.push(() => call("GET", "/api/v1/settlements", { query: { merchantId: m, currency, from: p.from, to: p.to } }));
  let reports;
  try {
    reports = await pool(tasks);
  } catch (e) {
    replace(out, card("Settlement", notice(e.message, "error")));
    return;
  }
  const pick = (r, k) => (r.totals || []).filter((t) => t.currency === currency).reduce((a, t) => a + (t[k] || 0), 0);
  const series = (k) => merchants.map((m, i) => ({ name: m, values: ps.map((_, j) => pick(reports[i * ps.length + j], k)) }));
  const fmt = (v) => money(Math.round(v), currency);
  const rows = merchants.flatMap((m, i) => ps.map((p, j) => ({ m, p, r: reports[i * ps.length + j] })));
  replace(out, card(`Settlement per merchant, ${currency}`,
    barChart({ title: `Released to merchants per ${unit} (${currency})`, categories: ps.map((p) => p.label), series: series("released"), fmt, floor: 100 }),
    barChart({ title: `Refunded to payers per ${unit} (${currency})`, categories: ps.map((p) => p.label), series: series("refunded"), fmt, floor: 100 }),
    h("details", {}, h("summary", {}, "Settlement table"), table("Settlement", [
      { label: "Merchant", cell: (x) => x.m, header: true },
      { label: "Period", cell: (x) => `${x.p.from} – ${x.p.to}` },
      { label: "Orders", cell: (x) => String(x.r.orders ?? 0), class: "num" },
      { label: "Released", cell: (x) => money(pick(x.r, "released"), currency), class: "num" },
      { label: "Refunded", cell: (x) => money(pick(x.r, "refunded"), currency), class: "num" },
    ], rows))));
}

async function creditSection(out, merchants) {
  let reports;
  try {
    reports = await pool(merchants.map((m) => () => call("GET", `/api/v1/merchants/${encodeURIComponent(m)}/credit`)));
  } catch (e) {
    replace(out, card("Merchant credit", notice(e.message, "error")));
    return;
  }
  const pm = (v) => (v === undefined ? "—" : (v / 10).toFixed(1) + " %");
  replace(out, card("Merchant credit",
    barChart({ title: "Credit score (0–1000)", categories: merchants, series: [{ name: "score", values: reports.map((r) => r.score) }], fmt: (v) => String(Math.round(v)) }),
    table("Merchant credit", [
      { label: "Merchant", cell: (r) => r.merchantId, header: true },
      { label: "Score", cell: (r) => String(r.score), class: "num" },
      { label: "Finished orders", cell: (r) => String(r.orders), class: "num" },
      { label: "Completed", cell: (r) => pm(r.completionRatePermille), class: "num" },
      { label: "On time", cell: (r) => pm(r.onTimeRatePermille), class: "num" },
      { label: "Disputed", cell: (r) => pm(r.disputeRatePermille), class: "num" },
      { label: "Refund ratio", cell: (r) => pm(r.refundRatioPermille), class: "num" },
      { label: "Model", cell: (r) => r.scoreModel },
    ], reports)));
}

/** flowSection counts, per day, the orders that reached each step. */
function flowSection(out, orders, from, to) {
  const days = periods(from, to, "day", 366);
  const index = new Map(days.map((d, i) => [d.from, i]));
  const steps = [
    ["created", (o) => o.createdAt],
    ["paid", (o) => o.payment?.paidAt],
    ["cleared", (o) => (o.customs?.cleared ? o.customs.decidedAt : null)],
    ["delivered", (o) => o.logistics?.deliveredAt],
    ["completed", (o) => (o.status === "COMPLETED" ? o.closedAt : null)],
  ];
  const series = steps.map(([name, at]) => {
    const values = days.map(() => 0);
    for (const o of orders) {
      const t = at(o);
      if (!t) continue;
      const i = index.get(day(new Date(t)));
      if (i !== undefined) values[i]++;
    }
    return { name, values };
  });
  replace(out, card("Order flow", lineChart({ title: "Orders reaching each step per day", categories: days.map((d) => d.label), series, integer: true })));
}

function quantile(sorted, q) {
  if (!sorted.length) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** delaySection shows how long escrow waited between payment and release. */
function delaySection(out, orders) {
  const waits = orders.filter((o) => o.status === "COMPLETED" && o.payment?.paidAt && o.closedAt)
    .map((o) => new Date(o.closedAt) - new Date(o.payment.paidAt)).sort((a, b) => a - b);
  const bins = [["< 1 min", 60e3], ["< 10 min", 600e3], ["< 1 h", 3600e3], ["< 1 day", 86400e3], ["< 7 days", 7 * 86400e3], ["≥ 7 days", Infinity]];
  const counts = bins.map(() => 0);
  for (const w of waits) counts[bins.findIndex(([, lim]) => w < lim)]++;
  replace(out, card("Time from payment to release",
    waits.length ? facts([["Completed orders", String(waits.length)], ["Median", duration(quantile(waits, 0.5))],
      ["90th percentile", duration(quantile(waits, 0.9))], ["Longest", duration(waits[waits.length - 1])]])
      : notice("No completed order yet."),
    barChart({ title: "Completed orders by time from payment to release", categories: bins.map(([l]) => l), series: [{ name: "orders", values: counts }], fmt: (v) => String(Math.round(v)), integer: true })));
}

export async function reportsView(main) {
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 29 * 86400000);
  const f = h("form", { class: "filters", "aria-label": "Report settings" },
    h("div", { class: "field wide" }, h("label", { for: "rp-merchants" }, "Merchants"),
      h("input", { id: "rp-merchants", name: "merchants", placeholder: "comma-separated; empty: the merchants of recent orders" })),
    h("div", { class: "field" }, h("label", { for: "rp-from" }, "From"), h("input", { id: "rp-from", name: "from", type: "date", value: day(monthAgo), required: true })),
    h("div", { class: "field" }, h("label", { for: "rp-to" }, "To"), h("input", { id: "rp-to", name: "to", type: "date", value: day(today), required: true })),
    h("div", { class: "field" }, h("label", { for: "rp-currency" }, "Currency"), h("input", { id: "rp-currency", name: "currency", placeholder: "most used" })),
    h("div", { class: "field" }, h("label", { for: "rp-unit" }, "Period"), h("select", { id: "rp-unit", name: "unit" },
      h("option", { value: "day" }, "day"), h("option", { value: "week", selected: true }, "week"), h("option", { value: "month" }, "month"))),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Show")));
  const sections = { flow: h("div"), delay: h("div"), settlement: h("div"), credit: h("div") };
  main.append(h("h1", {}, "Reports"), f,
    h("div", { class: "grid" }, sections.flow, sections.delay), h("div", { class: "grid" }, sections.settlement, sections.credit));

  async function run() {
    const v = Object.fromEntries(new FormData(f));
    const busy = h("p", { class: "muted" }, "Loading…");
    for (const s of Object.values(sections)) replace(s, busy.cloneNode(true));
    let orders = [];
    if (session.can("listOrders")) {
      try {
        orders = await loadOrders();
      } catch (e) {
        replace(sections.flow, notice(e.message, "error"));
      }
    }
    let merchants = v.merchants.split(/[\s,]+/).filter(Boolean);
    if (!merchants.length) merchants = [...new Set(orders.map((o) => o.merchantId))].slice(0, 6);
    const byCurrency = {};
    for (const o of orders) byCurrency[o.currency] = (byCurrency[o.currency] || 0) + 1;
    const currency = (v.currency || "").toUpperCase() || Object.entries(byCurrency).sort((a, b) => b[1] - a[1])[0]?.[0] || "EUR";
    const jobs = [];
    if (session.can("listOrders")) {
      flowSection(sections.flow, orders, v.from, v.to);
      delaySection(sections.delay, orders);
    } else {
      replace(sections.flow);
      replace(sections.delay);
    }
    if (!merchants.length) {
      replace(sections.settlement, notice("Name one or more merchants."));
      replace(sections.credit);
      return;
    }
    if (session.can("getSettlementReport")) jobs.push(settlementSection(sections.settlement, merchants, v.from, v.to, currency, v.unit));
    else replace(sections.settlement, notice(`${session.me.mspId} may not read settlement reports.`));
    if (session.can("getMerchantCredit")) jobs.push(creditSection(sections.credit, merchants));
    else replace(sections.credit);
    await Promise.all(jobs);
  }
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run();
  });
  await run();
}
