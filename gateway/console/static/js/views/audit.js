// The audit trail of one order: every version of every record it has, who wrote it and in
// which transaction (GET /api/v1/orders/{id}/history). The channel explorer shows every
// transaction of the channel.

import { h, replace } from "../dom.js";
import { call, Problem } from "../api.js";
import { time } from "../format.js";
import { signer } from "./order.js";
import { orderLink, txLink, table, notice } from "../ui.js";

export async function auditView(main, { params, go }) {
  const id = params[0] || "";
  const input = h("input", { id: "audit-order", name: "orderId", value: id, required: true, autocomplete: "off" });
  const f = h("form", { class: "filters", role: "search", "aria-label": "Find an order's audit trail" },
    h("div", { class: "field" }, h("label", { for: "audit-order" }, "Order ID"), input),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Show trail")));
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (input.value.trim()) go("/audit/" + encodeURIComponent(input.value.trim()));
  });
  const out = h("div", { id: "audit-trail" });
  main.append(h("h1", {}, "Audit trail"),
    h("p", { class: "muted" }, "Every record an order has on the ledger, each version with its transaction and signer. For every transaction of the channel, see the ",
      h("a", { href: "#/channel" }, "channel explorer"), "."),
    f, out);
  if (!id) return;
  try {
    const hist = await call("GET", `/api/v1/orders/${encodeURIComponent(id)}/history`);
    const entries = hist.entries || [];
    replace(out, h("p", {}, `${entries.length} entries for order `, orderLink(id), "."),
      table(`Audit trail of ${id}`, [
        { label: "When", cell: (e) => time(e.timestamp), class: "nowrap" },
        { label: "Record", cell: (e) => e.type + (e.isDelete ? " (deleted)" : ""), header: true },
        { label: "Organisation", cell: (e) => e.creatorMsp },
        { label: "Signed by", cell: (e) => signer(e) },
        { label: "Status after", cell: (e) => (e.type === "order" ? e.value?.status : "") },
        { label: "Transaction", cell: (e) => txLink(e.txId) },
        { label: "Value", cell: (e) => h("details", {}, h("summary", {}, "show"), h("pre", {}, JSON.stringify(e.value, null, 2))) },
      ], entries, { class: "audit" }));
  } catch (e) {
    replace(out, notice(e instanceof Problem && e.status === 404 ? `There is no order ${id}.` : e.message, "error"));
  }
}
