// The write forms of the order page: one per transaction the caller's organisation may call
// (GET /api/v1/me) and that the order's status allows (design §3; a hint only — the chaincode
// decides, and its problem is shown next to the field it names).

import { h } from "../dom.js";
import { call, session } from "../api.js";
import { field, form } from "../forms.js";
import { majorUnits, convert } from "../format.js";
import { isFinal } from "../ui.js";

const SEQUENCE = ["PICKED_UP", "DEPARTED", "ARRIVED", "OUT_FOR_DELIVERY", "DELIVERED"];
const held = (o, kind) => o.status === "HELD" && (!kind || o.hold?.kind === kind);

/** compact drops empty optional values from a request body. */
function compact(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null || v === "") continue;
    out[k] = v;
  }
  return out;
}

function post(o, path) {
  return (body, idem) => call("POST", `/api/v1/orders/${encodeURIComponent(o.orderId)}/${path}`, { body: compact(body), idempotencyKey: idem });
}

/** paymentForm lets the bank escrow the payment, proposing the payer amount for the FX rate. */
function paymentForm(o, done) {
  const f = form({
    id: "form-escrowPayment",
    title: "Escrow the payment",
    description: `The payer amount must equal the order total (${majorUnits(o.total, o.currency)} ${o.currency}) × the FX rate, rounded half to even in the payer currency.`,
    fields: [
      field({ name: "paymentId", label: "Payment ID", value: "pay-" + o.orderId, required: true }),
      field({ name: "payerCurrency", label: "Payer currency", value: o.currency, required: true, hint: "ISO 4217, e.g. USD" }),
      field({ name: "fxRate", label: "FX rate", value: "1", required: true, hint: "payer currency per unit of " + o.currency + ", up to 8 decimals" }),
      field({ name: "payerAmount", label: "Payer amount", type: "money", currency: o.currency, value: majorUnits(o.total, o.currency), required: true }),
      field({ name: "fee", label: "Fee", type: "money", currency: o.currency, hint: "optional, in the payer currency" }),
      field({ name: "payerName", label: "Payer name", required: true, hint: "private: Bank and Customs only" }),
      field({ name: "payerAccount", label: "Payer account", required: true, hint: "private: Bank and Customs only" }),
    ],
    submit: "Escrow payment",
    send: post(o, "payment"),
    onDone: done,
  });
  const cur = f.elements.payerCurrency;
  const rate = f.elements.fxRate;
  const amount = f.elements.payerAmount;
  const fee = f.elements.fee;
  let edited = false;
  amount.addEventListener("input", () => { edited = true; });
  const propose = () => {
    const c = cur.value.trim().toUpperCase();
    if (!/^[A-Z]{3}$/.test(c)) return;
    for (const input of [amount, fee]) {
      input.dataset.currency = c;
      const text = input.closest(".field").querySelector("label").firstChild;
      text.textContent = text.textContent.replace(/\([A-Z]*\)$/, `(${c})`);
    }
    if (edited) return;
    const v = convert(o.total, o.currency, rate.value, c);
    if (v !== undefined) amount.value = majorUnits(v, c);
  };
  cur.addEventListener("input", propose);
  rate.addEventListener("input", propose);
  return f;
}

function declarationForm(o, done) {
  const codes = [...new Set((o.items || []).map((i) => i.hsCode))].join(", ");
  return form({
    id: "form-declareCustoms",
    title: "Declare to customs",
    description: "Customs clears only when the declared value equals the order total and the HS codes equal the items'.",
    fields: [
      field({ name: "declarationId", label: "Declaration ID", value: "decl-" + o.orderId, required: true }),
      field({ name: "declaredValue", label: "Declared value", type: "money", currency: o.currency, value: majorUnits(o.total, o.currency), required: true }),
      field({ name: "hsCodes", label: "HS codes", value: codes, required: true, hint: "comma-separated, 6 to 10 digits each" }),
    ],
    submit: "Declare",
    send: (v, idem) => post(o, "customs/declaration")({ ...v, hsCodes: v.hsCodes.split(/[\s,]+/).filter(Boolean) }, idem),
    onDone: done,
  });
}

function waybillForm(o, done) {
  return form({
    id: "form-registerWaybill",
    title: "Register the waybill",
    description: "The consignee is private (Merchant, Carrier, Customs); customs compares it with the merchant's through hashes only.",
    fields: [
      field({ name: "waybillNo", label: "Waybill number", value: "WB-" + o.orderId, required: true }),
      field({ name: "consigneeName", label: "Consignee name", required: true }),
      field({ name: "consigneeAddress", label: "Consignee address", type: "textarea", rows: 2, required: true }),
    ],
    submit: "Register waybill",
    send: post(o, "waybill"),
    onDone: done,
  });
}

function decisionForm(o, done) {
  return form({
    id: "form-decideCustoms",
    title: "Decide the declaration",
    description: "Clearing runs the three-document match; rejecting refunds the escrow in full.",
    fields: [
      field({ name: "decision", label: "Decision", type: "select", required: true, value: "CLEARED",
        options: [["CLEARED", "Clear"], ["HELD", "Hold"], ["REJECTED", "Reject"]] }),
      field({ name: "reason", label: "Reason", hint: "required to hold or reject" }),
      field({ name: "dutyAmount", label: "Duty", type: "money", currency: o.currency, value: "0" }),
      field({ name: "taxAmount", label: "Tax", type: "money", currency: o.currency, value: "0" }),
    ],
    submit: "Record decision",
    send: post(o, "customs/decision"),
    onDone: done,
  });
}

function checkpointForm(o, done) {
  const last = SEQUENCE.indexOf(o.logistics?.lastCheckpoint);
  const nextCode = SEQUENCE[last + 1] || "EXCEPTION";
  return form({
    id: "form-recordCheckpoint",
    title: "Certify a checkpoint",
    fields: [
      field({ name: "code", label: "Checkpoint", type: "select", value: nextCode, required: true,
        options: [...SEQUENCE, "EXCEPTION"].map((c) => [c, c.replaceAll("_", " ").toLowerCase()]) }),
      field({ name: "location", label: "Location", required: true }),
      field({ name: "documentHash", label: "Document SHA-256", hint: "optional: hash of the proof (scan, photo)" }),
    ],
    submit: "Certify",
    send: post(o, "checkpoints"),
    onDone: done,
  });
}

function disputeForm(o, done) {
  return form({
    id: "form-openDispute", title: "Open a dispute", description: "Release is frozen while the dispute is open.",
    fields: [field({ name: "reason", label: "Reason", type: "textarea", rows: 2, required: true })],
    submit: "Open dispute", send: post(o, "disputes"), onDone: done, danger: true,
  });
}

function resolutionForm(o, done) {
  const held = (o.escrow?.amount ?? 0) - (o.escrow?.released ?? 0) - (o.escrow?.refunded ?? 0);
  return form({
    id: "form-resolveDispute", title: "Resolve the dispute",
    description: "The refund goes back to the payer, the rest to the merchant, in one transaction.",
    fields: [
      field({ name: "refundAmount", label: "Refund", type: "money", currency: o.currency, value: "0", required: true,
        hint: `0 to ${majorUnits(held, o.currency)}` }),
      field({ name: "resolution", label: "Resolution" }),
    ],
    submit: "Resolve", send: post(o, "disputes/resolution"), onDone: done,
  });
}

function simpleForm(o, id, title, description, submit, path, done, danger) {
  return form({ id: "form-" + id, title, description, fields: [], submit, send: post(o, path), onDone: done, danger });
}

function cancelForm(o, done) {
  return form({
    id: "form-cancelOrder", title: "Cancel the order", description: "Only before pickup; any escrow goes back to the payer.",
    fields: [field({ name: "reason", label: "Reason" })],
    submit: "Cancel order", send: post(o, "cancellation"), onDone: done, danger: true,
  });
}

async function sha256Hex(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function anchorForm(o, done) {
  const file = h("input", { type: "file", id: "anchor-file", "aria-describedby": "anchor-file-hint" });
  const f = form({
    id: "form-anchorDocument", title: "Anchor a document",
    description: "Only the document's SHA-256 goes to the ledger; the file never leaves this browser.",
    fields: [
      field({ name: "kind", label: "Kind", type: "select", value: "INVOICE", required: true,
        options: ["INVOICE", "CUSTOMS_DECLARATION", "BILL_OF_LADING", "PROOF_OF_DELIVERY", "OTHER"].map((k) => [k, k.replaceAll("_", " ").toLowerCase()]) }),
      h("div", { class: "field" }, h("label", { for: "anchor-file" }, "File (hashed here)"), file,
        h("small", { id: "anchor-file-hint", class: "hint" }, "or paste the hash below")),
      field({ name: "sha256", label: "SHA-256", required: true }),
    ],
    submit: "Anchor", onDone: done,
    send: (v, idem) => call("POST", "/api/v1/documents", { body: { sha256: v.sha256.trim().toLowerCase(), orderId: o.orderId, kind: v.kind }, idempotencyKey: idem }),
  });
  file.addEventListener("change", async () => {
    if (file.files.length && crypto.subtle) f.elements.sha256.value = await sha256Hex(file.files[0]);
  });
  return f;
}

/** ACTIONS: operationId, whether the order's status allows it, and its form. */
export const ACTIONS = [
  { op: "escrowPayment", when: (o) => o.status === "CREATED", form: paymentForm },
  { op: "declareCustoms", when: (o) => ["PAID", "DOCUMENTED", "IN_TRANSIT"].includes(o.status) || held(o, "CUSTOMS"), form: declarationForm },
  { op: "registerWaybill", when: (o) => (["PAID", "DOCUMENTED"].includes(o.status) || held(o, "CUSTOMS")) && !o.logistics?.pickedUpAt, form: waybillForm },
  { op: "decideCustoms", when: (o) => (o.documents?.declared && !o.customs?.cleared && ["DOCUMENTED", "IN_TRANSIT", "HELD"].includes(o.status)) || held(o, "COMPLIANCE"), form: decisionForm },
  { op: "recordCheckpoint", when: (o) => o.documents?.waybilled && !isFinal(o.status), form: checkpointForm },
  { op: "confirmDelivery", when: (o) => o.status === "DELIVERED",
    form: (o, d) => simpleForm(o, "confirmDelivery", "Confirm delivery", "For the buyer: releases the escrow to the merchant now.", "Confirm delivery", "delivery-confirmation", d) },
  { op: "releaseEscrow", when: (o) => o.status === "DELIVERED",
    form: (o, d) => simpleForm(o, "releaseEscrow", "Release the escrow", "Anyone may release once the confirmation window after delivery has passed without a dispute.", "Release escrow", "release", d) },
  { op: "openDispute", when: (o) => (["PAID", "DOCUMENTED", "CLEARED", "IN_TRANSIT", "DELIVERED"].includes(o.status) || (held(o) && o.escrow?.amount > 0)) && !o.dispute, form: disputeForm },
  { op: "resolveDispute", when: (o) => o.status === "DISPUTED", form: resolutionForm },
  { op: "cancelOrder", when: (o) => ["CREATED", "PAID", "DOCUMENTED", "CLEARED", "HELD"].includes(o.status) && !o.logistics?.pickedUpAt, form: cancelForm },
  { op: "anchorDocument", when: () => true, form: anchorForm },
];

/**
 * actionForms returns the forms for order o: those the caller's organisation may call, and,
 * unless all is set, that o's status allows. kept holds the forms shown before (by operation):
 * one the user has started to fill in, or that is being sent, is kept as it is, so that a
 * ledger event arriving meanwhile loses nothing; the others are made afresh from o.
 */
export function actionForms(o, done, all, kept) {
  const out = new Map();
  for (const a of ACTIONS) {
    if (!session.can(a.op) || !(all || a.when(o))) continue;
    const old = kept.get(a.op);
    out.set(a.op, old && (old.dataset.dirty || old.hasAttribute("aria-busy")) ? old : a.form(o, done));
  }
  return out;
}
