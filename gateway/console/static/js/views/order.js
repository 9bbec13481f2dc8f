// One order: its lifecycle as a timeline (who signed each step, when, in which transaction),
// payment with FX, customs and the three-document match, checkpoints, documents, the dispute,
// the full audit history, and the forms for what the caller's organisation may do next.

import { h, replace } from "../dom.js";
import { call, live, session, Problem } from "../api.js";
import { money, time, who, statusLabel, convert, duration, shortHash } from "../format.js";
import { statusBadge, txLink, table, facts, card, notice, isFinal } from "../ui.js";
import { actionForms } from "./actions.js";

/** signer returns the short identity that wrote a history entry: the entry's creatorName, or
 * the common name in the record's own identity fields. */
export function signer(e) {
  if (e.creatorName) return e.creatorName;
  const v = e.value || {};
  return who(v.updatedBy || v.anchoredBy || v.certifiedBy || "");
}

/** what says what a transaction did to the order, from the records it wrote. */
function what(group, first) {
  const by = Object.fromEntries(group.map((e) => [e.type, e.value || {}]));
  if (by.payment) return `Payment escrowed: ${money(by.payment.payerAmount, by.payment.payerCurrency)} at ${by.payment.fxRate}`;
  if (by.declaration) return `Declared to customs: ${money(by.declaration.declaredValue, by.declaration.currency)}, HS ${(by.declaration.hsCodes || []).join(", ")}`;
  if (by.waybill) return `Waybill ${by.waybill.waybillNo} registered`;
  if (by.customsDecision) return `Customs decision: ${statusLabel(by.customsDecision.decision)}${by.customsDecision.reason ? " (" + by.customsDecision.reason + ")" : ""}`;
  if (by.checkpoint) return `Checkpoint ${statusLabel(by.checkpoint.code)} at ${by.checkpoint.location}`;
  if (by.dispute) return by.dispute.open ? `Dispute opened: ${by.dispute.reason}` : `Dispute resolved: refund ${by.dispute.refundAmount}`;
  if (by.document) return `Document anchored: ${statusLabel(by.document.kind)} ${shortHash(by.document.sha256, 12)}`;
  const s = by.order?.status;
  if (first) return "Order created";
  if (s === "COMPLETED") return "Escrow released to the merchant";
  if (s === "CANCELLED") return "Order cancelled, escrow refunded";
  return "Order updated";
}

/** timeline groups history entries by transaction, oldest first. */
function timeline(entries) {
  const groups = [];
  const byTx = new Map();
  for (const e of entries) {
    let g = byTx.get(e.txId);
    if (!g) {
      g = [];
      byTx.set(e.txId, g);
      groups.push(g);
    }
    g.push(e);
  }
  return h("ol", { class: "timeline", id: "timeline" }, groups.map((g, i) => {
    const e = g[0];
    const orderEntry = g.find((x) => x.type === "order");
    const status = orderEntry?.value?.status;
    return h("li", { dataset: { tx: e.txId } },
      h("div", { class: "when" }, h("time", { datetime: e.timestamp }, time(e.timestamp))),
      h("div", { class: "step" },
        h("p", { class: "what" }, what(g, i === 0), status ? [" → ", statusBadge(status)] : null),
        h("p", { class: "by" }, "signed by ", h("strong", {}, signer(e) || e.creatorMsp), " (", e.creatorMsp, ") · tx ", txLink(e.txId))));
  }));
}

function escrowBar(o) {
  const a = o.escrow?.amount || 0;
  const rel = o.escrow?.released || 0;
  const ref = o.escrow?.refunded || 0;
  const pct = (v) => (a ? (100 * v) / a : 0).toFixed(1) + "%";
  // Widths through the CSSOM: the console's Content-Security-Policy forbids style attributes.
  const released = h("span", { class: "released" });
  const refunded = h("span", { class: "refunded" });
  released.style.width = pct(rel);
  refunded.style.width = pct(ref);
  return h("div", { class: "escrow" },
    h("div", { class: "bar", role: "img", "aria-label": `Escrow ${money(a, o.currency)}: released ${money(rel, o.currency)}, refunded ${money(ref, o.currency)}` },
      released, refunded),
    facts([["Escrowed", money(a, o.currency)], ["Released to merchant", money(rel, o.currency)],
      ["Refunded to payer", money(ref, o.currency)], ["Held", money(a - rel - ref, o.currency)]]));
}

function paymentCard(o) {
  const p = o.payment;
  if (!p) return card("Payment", notice("Not paid yet."));
  const expected = convert(o.total, o.currency, p.fxRate, p.payerCurrency);
  return card("Payment and FX",
    facts([
      ["Payment ID", p.paymentId],
      ["Payer paid", money(p.payerAmount, p.payerCurrency)],
      ["FX rate", `${p.fxRate} ${p.payerCurrency} per ${o.currency}`],
      ["Order total", money(o.total, o.currency)],
      ["Check", expected === p.payerAmount ? "✓ payer amount = total × rate" : `✗ expected ${money(expected, p.payerCurrency)}`],
      ["Fee", money(p.fee, p.payerCurrency)],
      ["Paid at", time(p.paidAt)],
      p.payerName ? ["Payer (private)", `${p.payerName}, ${p.payerAccount}`] : null,
    ]),
    escrowBar(o));
}

function latest(entries, type) {
  const list = entries.filter((e) => e.type === type && e.value);
  return list.length ? list[list.length - 1].value : null;
}

function check(ok, text) {
  return h("li", { class: ok === true ? "ok" : ok === false ? "bad" : "pending" },
    h("span", { class: "mark", "aria-hidden": "true" }, ok === true ? "✓" : ok === false ? "✗" : "…"),
    h("span", { class: "visually-hidden" }, ok === true ? "passes: " : ok === false ? "fails: " : "pending: "), text);
}

function customsCard(o, entries) {
  const decl = latest(entries, "declaration");
  const c = o.customs || {};
  const items = new Set((o.items || []).map((i) => i.hsCode));
  const declared = decl ? new Set(decl.hsCodes || []) : null;
  const sameCodes = declared ? declared.size === items.size && [...items].every((x) => declared.has(x)) : undefined;
  return card("Customs",
    facts([
      ["Declaration", decl ? `${decl.declarationId}: ${money(decl.declaredValue, decl.currency || o.currency)}` : (o.documents?.declared ? o.documents.declarationId : "not declared")],
      ["Decision", c.decision ? statusLabel(c.decision) : "none yet"],
      c.reason ? ["Reason", c.reason] : null,
      ["Duty", money(c.dutyAmount, o.currency)],
      ["Tax", money(c.taxAmount, o.currency)],
      ["Decided at", time(c.decidedAt)],
    ]),
    h("h3", {}, "Three-document match"),
    h("ul", { class: "checks", id: "three-document-match" },
      check(!!o.payment && o.escrow?.amount === o.total ? true : o.payment ? false : undefined, "payment escrowed for the order total"),
      check(decl ? decl.declaredValue === o.total : undefined, "declared value equals the order total"),
      check(sameCodes, "declared HS codes equal the items' HS codes"),
      check(o.documents?.waybilled ? true : undefined, "waybill registered"),
      check(c.cleared ? true : undefined, c.cleared ? "consignees agree (compared by customs through private-data hashes)" : "consignees compared by customs at clearance, through private-data hashes")));
}

function logisticsCard(o, entries) {
  const cps = entries.filter((e) => e.type === "checkpoint" && e.value);
  return card("Logistics",
    facts([
      ["Waybill", o.documents?.waybillNo || "not registered"],
      ["Last checkpoint", o.logistics?.lastCheckpoint ? statusLabel(o.logistics.lastCheckpoint) : "none"],
      ["Picked up", time(o.logistics?.pickedUpAt)],
      ["Delivered", time(o.logistics?.deliveredAt)],
      o.logistics?.deliveredAt && !isFinal(o.status)
        ? ["Release possible from", time(new Date(new Date(o.logistics.deliveredAt).getTime() + o.confirmationWindowSeconds * 1000).toISOString())]
        : null,
    ]),
    table("Certified checkpoints", [
      { label: "Checkpoint", cell: (e) => statusLabel(e.value.code), header: true },
      { label: "Location", cell: (e) => e.value.location },
      { label: "Certified by", cell: (e) => who(e.value.certifiedBy || e.value.updatedBy) || e.creatorMsp },
      { label: "At", cell: (e) => time(e.timestamp), class: "nowrap" },
      { label: "Proof", cell: (e) => (e.value.documentHash ? h("code", { title: e.value.documentHash }, shortHash(e.value.documentHash, 12)) : "—") },
      { label: "Transaction", cell: (e) => txLink(e.txId) },
    ], cps, { empty: "No checkpoint certified yet." }));
}

function documentsCard(entries) {
  const docs = entries.filter((e) => e.type === "document" && e.value);
  return card("Documents", table("Anchored documents", [
    { label: "Kind", cell: (e) => statusLabel(e.value.kind), header: true },
    { label: "SHA-256", cell: (e) => h("code", { title: e.value.sha256 }, shortHash(e.value.sha256, 16)) },
    { label: "Anchored by", cell: (e) => `${who(e.value.anchoredBy)} (${e.value.anchoredByMsp})` },
    { label: "At", cell: (e) => time(e.value.anchoredAt || e.timestamp), class: "nowrap" },
    { label: "Transaction", cell: (e) => txLink(e.txId) },
  ], docs, { empty: "No document anchored." }));
}

function disputeCard(o) {
  const d = o.dispute;
  if (!d) return null;
  return card("Dispute", facts([
    ["State", d.open ? "open: release frozen" : "resolved"],
    ["Reason", d.reason],
    ["Opened", time(d.openedAt)],
    d.open ? null : ["Refund", money(d.refundAmount, o.currency)],
    d.resolution ? ["Resolution", d.resolution] : null,
    d.resolvedAt ? ["Resolved", time(d.resolvedAt)] : null,
  ]));
}

function itemsCard(o) {
  return card("Items", table("Items", [
    { label: "SKU", cell: (i) => i.sku, header: true },
    { label: "Name", cell: (i) => i.name },
    { label: "HS code", cell: (i) => i.hsCode },
    { label: "Qty", cell: (i) => i.quantity, class: "num" },
    { label: "Unit price", cell: (i) => money(i.unitPrice, o.currency), class: "num" },
    { label: "Line total", cell: (i) => money(i.lineTotal, o.currency), class: "num" },
  ], o.items || []), facts([["Shipping", money(o.shippingFee, o.currency)], ["Total", money(o.total, o.currency)]]));
}

function auditTable(entries) {
  return table("Audit history", [
    { label: "When", cell: (e) => time(e.timestamp), class: "nowrap" },
    { label: "Record", cell: (e) => e.type + (e.isDelete ? " (deleted)" : "") },
    { label: "Organisation", cell: (e) => e.creatorMsp },
    { label: "Signed by", cell: (e) => signer(e) },
    { label: "Transaction", cell: (e) => txLink(e.txId) },
    { label: "Value", cell: (e) => h("details", {}, h("summary", {}, "show"), h("pre", {}, JSON.stringify(e.value, null, 2))) },
  ], entries, { class: "audit" });
}

/**
 * layout builds the order page's regions once; later renders fill them in place. The actions
 * region keeps its forms as they are (see syncChildren), so that a ledger event arriving while
 * someone fills in or clicks a form neither loses what was typed nor the click.
 */
function layout(root, state) {
  if (state.layout && root.contains(state.layout.head)) return state.layout;
  const L = {
    head: h("div", { class: "page-head" }),
    lead: h("p", { class: "lead" }),
    notices: h("div"),
    lifecycle: h("div"),
    actions: h("div", { id: "actions" }),
    toggle: h("label", { class: "toggle" },
      h("input", { type: "checkbox", onchange: (ev) => { state.all = ev.target.checked; state.rerender(); } }),
      " show every action my organisation may take, whatever the order's status"),
    three: h("div", { class: "grid three" }),
    more: h("div", { class: "grid" }),
    audit: h("div"),
  };
  replace(root, L.head, L.lead, L.notices,
    h("div", { class: "grid" },
      card("Lifecycle", L.lifecycle),
      h("section", { class: "card actions-card", "aria-label": "Actions" }, h("h2", {}, "Actions"), L.actions, L.toggle)),
    L.three, L.more,
    card("Audit history", h("p", { class: "muted" }, "Every version of every record of this order, oldest first."), L.audit));
  state.layout = L;
  return L;
}

/** syncChildren makes nodes the children of parent, moving only the nodes out of place. */
function syncChildren(parent, nodes) {
  nodes.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
  });
  while (parent.children.length > nodes.length) parent.lastElementChild.remove();
}

/** renderOrder fills the order's page. */
function renderOrder(root, o, entries, done, state) {
  const L = layout(root, state);
  const paid = o.payment?.paidAt ? new Date(o.payment.paidAt).getTime() : null;
  const closed = o.status === "COMPLETED" && o.closedAt ? new Date(o.closedAt).getTime() : null;
  replace(L.head, h("h1", {}, "Order ", h("span", { id: "order-id" }, o.orderId), " ", h("span", { id: "order-status" }, statusBadge(o.status))));
  replace(L.lead, `Merchant ${o.merchantId} · seller ${o.sellerCountry} → buyer ${o.buyer?.id} (${o.buyer?.country}) · `,
    money(o.total, o.currency), paid && closed ? ` · paid to released in ${duration(closed - paid)}` : "");
  replace(L.notices,
    o.hold ? notice(`Held (${statusLabel(o.hold.kind)}) since ${time(o.hold.since)}: ${o.hold.reason}`, "warn") : null,
    o.buyer?.name ? notice(`Buyer (private to your organisation): ${o.buyer.name}, ${o.buyer.address}, ${o.buyer.phone}`) : null);
  replace(L.lifecycle, entries.length ? timeline(entries) : notice("No history is visible to your organisation."));
  state.forms = actionForms(o, done, state.all, state.forms);
  const forms = [...state.forms.values()];
  syncChildren(L.actions, forms.length ? forms
    : [notice(isFinal(o.status) ? "The order is final." : `Nothing for ${session.me.mspId} to do at this step.`)]);
  L.toggle.querySelector("input").checked = state.all;
  replace(L.three, paymentCard(o), customsCard(o, entries), logisticsCard(o, entries));
  replace(L.more, itemsCard(o), documentsCard(entries), disputeCard(o));
  replace(L.audit, auditTable(entries));
}

export async function orderView(main, { params }) {
  const id = params[0];
  const root = h("div", { id: "order-page" }, h("h1", {}, "Order ", id), h("p", { class: "muted" }, "Loading…"));
  main.append(root);
  const state = { all: false, forms: new Map() };
  let busy = null;
  async function refresh() {
    let o;
    let entries = [];
    try {
      o = await call("GET", "/api/v1/orders/" + encodeURIComponent(id));
      if (session.can("getOrderHistory")) entries = (await call("GET", `/api/v1/orders/${encodeURIComponent(id)}/history`)).entries || [];
    } catch (e) {
      replace(root, h("h1", {}, "Order ", id), notice(e instanceof Problem && e.status === 404 ? `There is no order ${id}.` : e.message, "error"));
      return;
    }
    state.rerender = () => renderOrder(root, o, entries, () => refresh(), state);
    state.rerender();
  }
  await refresh();
  return live.subscribe((ev) => {
    if (ev.orderId !== id) return;
    // Coalesce bursts of events (one per block) into one reload.
    clearTimeout(busy);
    busy = setTimeout(refresh, 150);
  });
}
