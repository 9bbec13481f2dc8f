// Small pieces shared by the views: status badges, tables, definition lists, links.

import { h } from "./dom.js";
import { statusLabel, shortHash } from "./format.js";

const FINAL = new Set(["COMPLETED", "REFUNDED", "REJECTED", "CANCELLED"]);

/** isFinal reports whether an order status is final. */
export function isFinal(status) {
  return FINAL.has(status);
}

/** statusBadge renders an order status as a labelled badge. */
export function statusBadge(status) {
  return h("span", { class: "badge status-" + (status || "unknown").toLowerCase() }, statusLabel(status) || "unknown");
}

/** orderLink links to an order's page. */
export function orderLink(id) {
  return h("a", { href: "#/orders/" + encodeURIComponent(id) }, id);
}

/** txLink shows a transaction ID, linked to its block in the channel explorer when known. */
export function txLink(txId, block) {
  if (!txId) return "—";
  const text = h("code", { title: txId }, shortHash(txId, 12));
  if (block === undefined || block === null) {
    return h("a", { href: "#/channel?tx=" + encodeURIComponent(txId), title: "Find transaction " + txId }, text);
  }
  return h("a", { href: `#/channel/${block}?tx=${encodeURIComponent(txId)}`, title: "Transaction " + txId }, text);
}

/**
 * table renders rows as an accessible table inside a horizontally scrolling region.
 * columns: [{label, cell(row) → node|string, class}]. caption describes it.
 */
export function table(caption, columns, rows, opts = {}) {
  const t = h("table", { class: "data" + (opts.class ? " " + opts.class : "") },
    h("caption", { class: opts.showCaption ? "" : "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
    h("tbody", {}, rows.length
      ? rows.map((r) => rowFor(columns, r, opts))
      : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, opts.empty || "Nothing to show."))));
  return h("div", { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" }, t);
}

/** rowFor renders one table row (exported for views that insert rows live). */
export function rowFor(columns, r, opts = {}) {
  const tr = h("tr", { dataset: opts.key ? { key: opts.key(r) } : {} },
    columns.map((c) => h(c.header ? "th" : "td", { class: c.class, scope: c.header ? "row" : null }, c.cell(r) ?? "—")));
  return tr;
}

/** facts renders label/value pairs as a definition list. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

/** card groups a titled section. */
export function card(title, ...children) {
  return h("section", { class: "card", "aria-label": title }, h("h2", {}, title), ...children);
}

/** notice shows a message block (errors as alerts). */
export function notice(message, kind = "info") {
  return h("p", { class: "notice " + kind, role: kind === "error" ? "alert" : null }, message);
}

/** pager renders previous/next buttons. */
export function pager({ hasPrev, hasNext, onPrev, onNext, label, prevLabel, nextLabel }) {
  return h("nav", { class: "pager", "aria-label": label || "Pages" },
    h("button", { type: "button", disabled: !hasPrev, onclick: onPrev }, prevLabel || "← Previous page"),
    h("button", { type: "button", disabled: !hasNext, onclick: onNext }, nextLabel || "Next page →"));
}
