// Compliance: alerts with filters and drill-down (for organisations that may list them), and
// the rules in force with an editor (for the organisation that may set them).

import { h, replace } from "../dom.js";
import { call, live, session, Problem } from "../api.js";
import { field, form } from "../forms.js";
import { money, majorUnits, parseMoney, time } from "../format.js";
import { statusBadge, orderLink, txLink, table, facts, card, notice } from "../ui.js";

/** loadAll reads up to max items of a paged list. */
async function loadAll(path, max = 1000) {
  const items = [];
  let bookmark = "";
  do {
    const res = await call("GET", path, { query: { pageSize: 100, bookmark } });
    items.push(...(res.items || []));
    bookmark = res.bookmark || "";
  } while (bookmark && items.length < max);
  return items;
}

function alertsSection() {
  const root = h("div", { id: "alerts" });
  const drill = h("div", { id: "alert-detail", "aria-live": "polite" });
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter alerts" },
    h("div", { class: "field" }, h("label", { for: "al-merchant" }, "Merchant"), h("input", { id: "al-merchant", name: "merchant", placeholder: "any" })),
    h("div", { class: "field" }, h("label", { for: "al-buyer" }, "Buyer"), h("input", { id: "al-buyer", name: "buyer", placeholder: "any" })),
    h("div", { class: "field" }, h("label", { for: "al-text" }, "Reason contains"), h("input", { id: "al-text", name: "text" })),
    h("div", { class: "field" }, h("label", { for: "al-from" }, "From"), h("input", { id: "al-from", name: "from", type: "date" })),
    h("div", { class: "field" }, h("label", { for: "al-to" }, "to"), h("input", { id: "al-to", name: "to", type: "date" })));
  let all = [];
  const list = h("div");

  function filtered() {
    const v = Object.fromEntries(new FormData(filters));
    const from = v.from ? new Date(v.from + "T00:00:00").getTime() : -Infinity;
    const to = v.to ? new Date(v.to + "T00:00:00").getTime() + 86400000 : Infinity;
    return all.filter((a) => (!v.merchant || a.merchantId === v.merchant) && (!v.buyer || a.buyerId === v.buyer) &&
      (!v.text || (a.reason + " " + a.matched).toLowerCase().includes(v.text.toLowerCase())) &&
      new Date(a.at).getTime() >= from && new Date(a.at).getTime() < to);
  }

  async function showAlert(a) {
    replace(drill, card("Alert details", facts([
      ["Alert", h("code", { class: "wrap" }, a.alertId)], ["Order", orderLink(a.orderId)], ["Merchant", a.merchantId], ["Buyer", a.buyerId], ["Reason", a.reason],
      ["Matched", a.matched], ["Rule version", a.ruleVersion], ["At", time(a.at)], ["Transaction", txLink(a.txId)],
    ]), h("p", { class: "muted" }, "Loading the order…")));
    try {
      const o = await call("GET", "/api/v1/orders/" + encodeURIComponent(a.orderId));
      drill.querySelector(".muted").replaceWith(h("p", {}, "The order is ", statusBadge(o.status), ` (${money(o.total, o.currency)}). `,
        h("a", { href: "#/orders/" + encodeURIComponent(a.orderId) }, o.status === "HELD" ? "Open it to decide" : "Open the order")));
    } catch (e) {
      drill.querySelector(".muted").replaceWith(notice(e.message, "error"));
    }
    drill.querySelector("h2").tabIndex = -1;
    drill.querySelector("h2").focus();
  }

  function render() {
    const rows = filtered();
    replace(list, h("p", { class: "muted" }, `${rows.length} of ${all.length} alerts`),
      table("Compliance alerts", [
        { label: "At", cell: (a) => time(a.at), class: "nowrap" },
        { label: "Order", cell: (a) => orderLink(a.orderId), header: true },
        { label: "Merchant", cell: (a) => a.merchantId },
        { label: "Buyer", cell: (a) => a.buyerId },
        { label: "Reason", cell: (a) => a.reason },
        { label: "Matched", cell: (a) => a.matched },
        { label: "Details", cell: (a) => h("button", { type: "button", class: "link", onclick: () => showAlert(a) }, "Details") },
      ], rows, { empty: "No alert matches." }));
  }

  async function load() {
    try {
      all = await loadAll("/api/v1/compliance/alerts");
      all.sort((x, y) => (x.at < y.at ? 1 : -1));
      render();
    } catch (e) {
      replace(list, notice(e.message, "error"));
    }
  }
  filters.addEventListener("input", render);
  filters.addEventListener("submit", (ev) => ev.preventDefault());
  replace(root, card("Alerts", h("p", { class: "muted" }, "Orders recorded on hold because a merchant or buyer is on the watch list."), filters, list, drill));
  return { root, load };
}

/** limits renders a per-currency limit map as lines "EUR 1000.00". */
function limitsText(m) {
  return Object.entries(m || {}).map(([c, v]) => `${c} ${majorUnits(v, c)}`).join("\n");
}

function parseLimits(name, text) {
  const out = {};
  for (const line of (text || "").split("\n").map((l) => l.trim()).filter(Boolean)) {
    const m = /^([A-Z]{3})\s+(\S+)$/.exec(line);
    if (!m) throw new Problem({ code: "INVALID_ARGUMENT", field: name, detail: `"${line}": write one "CUR amount" per line, e.g. EUR 1000.00` }, 400);
    const v = parseMoney(m[2], m[1]);
    if (v.error) throw new Problem({ code: "INVALID_ARGUMENT", field: name, detail: `${m[1]}: ${v.error}` }, 400);
    out[m[1]] = v.value;
  }
  return out;
}

const list = (t) => (t || "").split(/[\s,]+/).filter(Boolean);

function rulesEditor(rules, done) {
  return form({
    id: "form-setComplianceRules",
    title: "Edit the rules",
    description: "Saving replaces the whole rule set (a new version); it applies to orders created from then on.",
    fields: [
      field({ name: "sanctionedCountries", label: "Sanctioned countries", type: "textarea", rows: 2, value: (rules.sanctionedCountries || []).join(", "), hint: "ISO 3166-1 alpha-2, comma-separated" }),
      field({ name: "prohibitedHsPrefixes", label: "Prohibited HS prefixes", type: "textarea", rows: 2, value: (rules.prohibitedHsPrefixes || []).join(", ") }),
      field({ name: "watchlist", label: "Watch list (merchant or buyer IDs)", type: "textarea", rows: 2, value: (rules.watchlist || []).join(", "), hint: "orders touching these are recorded on hold with an alert" }),
      field({ name: "singleOrderLimit", label: "Single-order limit per buyer", type: "textarea", rows: 2, value: limitsText(rules.singleOrderLimit), hint: "one \"CUR amount\" per line" }),
      field({ name: "yearlyLimit", label: "Yearly limit per buyer", type: "textarea", rows: 2, value: limitsText(rules.yearlyLimit), hint: "one \"CUR amount\" per line" }),
    ],
    submit: "Save rules",
    send: (v, idem) => call("PUT", "/api/v1/compliance/rules", {
      idempotencyKey: idem,
      body: {
        sanctionedCountries: list(v.sanctionedCountries), prohibitedHsPrefixes: list(v.prohibitedHsPrefixes),
        watchlist: list(v.watchlist), singleOrderLimit: parseLimits("singleOrderLimit", v.singleOrderLimit),
        yearlyLimit: parseLimits("yearlyLimit", v.yearlyLimit),
      },
    }),
    onDone: done,
  });
}

function rulesSection() {
  const root = h("div", { id: "rules" });
  async function load() {
    let rules;
    try {
      rules = await call("GET", "/api/v1/compliance/rules");
    } catch (e) {
      replace(root, card("Rules", notice(e.message, "error")));
      return;
    }
    const lim = (m) => (Object.keys(m || {}).length ? Object.entries(m).map(([c, v]) => money(v, c)).join(", ") : "none");
    replace(root, card("Rules in force",
      facts([
        ["Version", rules.version ? String(rules.version) : "0 (none set)"],
        ["Set", rules.updatedAt ? `${time(rules.updatedAt)} by ${rules.updatedByMsp}` : "—"],
        ["Transaction", txLink(rules.txId)],
        ["Sanctioned countries", (rules.sanctionedCountries || []).join(", ") || "none"],
        ["Prohibited HS prefixes", (rules.prohibitedHsPrefixes || []).join(", ") || "none"],
        ["Watch list", (rules.watchlist || []).join(", ") || "none"],
        ["Single-order limit", lim(rules.singleOrderLimit)],
        ["Yearly limit", lim(rules.yearlyLimit)],
      ]),
      session.can("setComplianceRules") ? rulesEditor(rules, load) : h("p", { class: "muted" }, "Only the customs authority sets the rules.")));
  }
  return { root, load };
}

export async function complianceView(main) {
  main.append(h("h1", {}, "Compliance"));
  const parts = [];
  let alerts = null;
  let rules = null;
  if (session.can("listComplianceAlerts")) {
    alerts = alertsSection();
    parts.push(alerts.root);
  }
  if (session.can("getComplianceRules")) {
    rules = rulesSection();
    parts.push(rules.root);
  }
  main.append(h("div", { class: "grid" }, parts));
  await Promise.all([alerts?.load(), rules?.load()]);
  return live.subscribe((ev) => {
    if (ev.name === "ComplianceAlert" && alerts) alerts.load();
    if (ev.name === "ComplianceRulesSet" && rules) rules.load();
  });
}
