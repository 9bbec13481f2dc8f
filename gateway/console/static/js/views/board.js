// The order board: filters (merchant, status, creation period), pages, and rows that change as
// ledger events arrive.

import { h, replace, announce } from "../dom.js";
import { call, live, session } from "../api.js";
import { money, time, statusLabel } from "../format.js";
import { statusBadge, orderLink, table, rowFor, pager, notice } from "../ui.js";

export const STATUSES = ["CREATED", "PAID", "DOCUMENTED", "CLEARED", "IN_TRANSIT", "DELIVERED", "HELD", "DISPUTED",
  "COMPLETED", "REFUNDED", "REJECTED", "CANCELLED"];

const columns = [
  { label: "Order", cell: (o) => orderLink(o.orderId), header: true },
  { label: "Merchant", cell: (o) => o.merchantId },
  { label: "Buyer", cell: (o) => `${o.buyer?.id ?? ""}${o.buyer?.country ? " (" + o.buyer.country + ")" : ""}` },
  { label: "Status", cell: (o) => statusBadge(o.status) },
  { label: "Total", cell: (o) => money(o.total, o.currency), class: "num" },
  { label: "Escrow held", cell: (o) => money((o.escrow?.amount ?? 0) - (o.escrow?.released ?? 0) - (o.escrow?.refunded ?? 0), o.currency), class: "num" },
  { label: "Created", cell: (o) => time(o.createdAt), class: "nowrap" },
  { label: "Updated", cell: (o) => time(o.updatedAt), class: "nowrap" },
];

/** inPeriod reports whether an order was created in [from, to] (local dates, inclusive). */
function inPeriod(o, from, to) {
  const t = new Date(o.createdAt).getTime();
  if (from && t < new Date(from + "T00:00:00").getTime()) return false;
  if (to && t >= new Date(to + "T00:00:00").getTime() + 86400000) return false;
  return true;
}

export async function boardView(main, { query, go }) {
  const filters = {
    merchantId: query.get("merchant") || "",
    status: query.get("status") || "",
    from: query.get("from") || "",
    to: query.get("to") || "",
  };
  const pageSize = 20;
  const filterForm = h("form", { class: "filters", role: "search", "aria-label": "Filter orders" },
    h("div", { class: "field" }, h("label", { for: "flt-merchant" }, "Merchant"),
      h("input", { id: "flt-merchant", name: "merchant", value: filters.merchantId, placeholder: "any" })),
    h("div", { class: "field" }, h("label", { for: "flt-status" }, "Status"),
      h("select", { id: "flt-status", name: "status" }, h("option", { value: "" }, "any"),
        STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, statusLabel(s))))),
    h("div", { class: "field" }, h("label", { for: "flt-from" }, "Created from"),
      h("input", { id: "flt-from", name: "from", type: "date", value: filters.from })),
    h("div", { class: "field" }, h("label", { for: "flt-to" }, "to"),
      h("input", { id: "flt-to", name: "to", type: "date", value: filters.to })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Apply"),
      h("button", { type: "button", onclick: () => go("/orders") }, "Clear")));
  filterForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(filterForm)) if (v) q.set(k, v);
    go("/orders" + (q.toString() ? "?" + q : ""));
  });

  const listEl = h("div", { id: "order-list", "aria-live": "off" });
  const activity = h("ol", { class: "activity", id: "activity", "aria-label": "Latest ledger events" });
  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Orders"),
      session.can("createOrder") ? h("a", { class: "button primary", href: "#/orders/new" }, "New order") : null),
    filterForm,
    h("div", { class: "board" }, listEl,
      h("aside", { class: "card activity-card", "aria-label": "Latest events" }, h("h2", {}, "Latest events"),
        activity, h("p", { class: "muted small" }, "Events arrive as transactions commit; rows update in place."))));

  // bookmarks[i] is the bookmark of page i; rows hold the shown orders by ID.
  const bookmarks = [""];
  let page = 0;
  let next = "";
  let rows = new Map();

  // The API filters by creation period itself, with or without a merchant, but not together
  // with a status: then the console reads pages and keeps the orders of the period (up to ten
  // pages per screen).
  const periodic = !!(filters.from || filters.to);
  const byServer = periodic && !filters.status;
  const startOf = (d) => new Date(d + "T00:00:00").toISOString();
  const endOf = (d) => new Date(new Date(d + "T00:00:00").getTime() + 86400000).toISOString();

  async function load() {
    replace(listEl, h("p", { class: "muted" }, "Loading…"));
    const shown = [];
    let bookmark = bookmarks[page];
    let scanned = 0;
    const scan = periodic && !byServer;
    try {
      do {
        const res = await call("GET", "/api/v1/orders", {
          query: {
            merchantId: filters.merchantId, status: filters.status, pageSize: scan ? 100 : pageSize, bookmark,
            createdFrom: byServer && filters.from ? startOf(filters.from) : "",
            createdTo: byServer && filters.to ? endOf(filters.to) : "",
          },
        });
        for (const o of res.items || []) if (!scan || inPeriod(o, filters.from, filters.to)) shown.push(o);
        bookmark = res.bookmark || "";
        scanned++;
      } while (scan && bookmark && shown.length < pageSize && scanned < 10);
    } catch (e) {
      replace(listEl, notice(e.message, "error"));
      return;
    }
    next = bookmark;
    rows = new Map(shown.map((o) => [o.orderId, o]));
    render();
  }

  function render() {
    const orders = [...rows.values()];
    replace(listEl,
      table("Orders", columns, orders, { key: (o) => o.orderId, empty: "No orders match these filters." }),
      pager({
        hasPrev: page > 0, hasNext: !!next, label: "Order pages",
        onPrev: () => { page--; load(); },
        onNext: () => { bookmarks[page + 1] = next; page++; load(); },
      }));
  }

  function matches(o) {
    return (!filters.merchantId || o.merchantId === filters.merchantId) &&
      (!filters.status || o.status === filters.status) && inPeriod(o, filters.from, filters.to);
  }

  async function onEvent(ev) {
    activity.prepend(h("li", {},
      h("strong", {}, ev.name), " ",
      ev.orderId ? orderLink(ev.orderId) : null,
      ev.payload?.status ? [" → ", statusBadge(ev.payload.status)] : null,
      h("small", { class: "muted" }, " block " + ev.blockNumber)));
    while (activity.children.length > 12) activity.lastElementChild.remove();
    if (!ev.orderId) return;
    const known = rows.has(ev.orderId);
    if (!known && (page !== 0 || !["OrderCreated", "ComplianceAlert"].includes(ev.name))) return;
    let o;
    try {
      o = await call("GET", "/api/v1/orders/" + encodeURIComponent(ev.orderId));
    } catch {
      return;
    }
    const tbody = listEl.querySelector("tbody");
    if (!tbody) return;
    if (known) {
      rows.set(o.orderId, o);
      const old = tbody.querySelector(`tr[data-key="${CSS.escape(o.orderId)}"]`);
      const tr = rowFor(columns, o, { key: (x) => x.orderId });
      tr.classList.add("flash");
      if (old) old.replaceWith(tr);
      announce(`Order ${o.orderId} is now ${statusLabel(o.status)}.`);
    } else if (matches(o)) {
      rows = new Map([[o.orderId, o], ...rows]);
      const empty = tbody.querySelector("td.empty");
      if (empty) empty.parentElement.remove();
      const tr = rowFor(columns, o, { key: (x) => x.orderId });
      tr.classList.add("flash");
      tbody.prepend(tr);
      announce(`New order ${o.orderId}.`);
    }
  }

  await load();
  return live.subscribe(onEvent);
}
