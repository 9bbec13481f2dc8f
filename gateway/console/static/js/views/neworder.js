// Creating an order (Merchant). Field names are the API's JSON paths ("buyer.name",
// "items[0].hsCode"), so the chaincode's or the gateway's problem lands next to its input.

import { h } from "../dom.js";
import { call } from "../api.js";
import { field, form } from "../forms.js";

function itemRow(i) {
  return h("fieldset", { class: "item-row", dataset: { index: String(i) } },
    h("legend", {}, `Item ${i + 1}`),
    field({ name: `items[${i}].sku`, label: "SKU", required: true }),
    field({ name: `items[${i}].name`, label: "Name", required: true }),
    field({ name: `items[${i}].hsCode`, label: "HS code", required: true, hint: "6 to 10 digits" }),
    field({ name: `items[${i}].quantity`, label: "Quantity", type: "number", min: 1, value: "1", required: true }),
    field({ name: `items[${i}].unitPrice`, label: "Unit price", type: "money", currency: "EUR", required: true }));
}

/** body builds the CreateOrder request from the form's flat values. */
function body(v) {
  const items = [];
  for (let i = 0; `items[${i}].sku` in v; i++) {
    items.push({
      sku: v[`items[${i}].sku`], name: v[`items[${i}].name`], hsCode: v[`items[${i}].hsCode`],
      quantity: Number.parseInt(v[`items[${i}].quantity`], 10), unitPrice: v[`items[${i}].unitPrice`],
    });
  }
  const b = {
    orderId: v.orderId, merchantId: v.merchantId,
    buyer: { id: v["buyer.id"], country: v["buyer.country"], name: v["buyer.name"], address: v["buyer.address"], phone: v["buyer.phone"] },
    sellerCountry: v.sellerCountry, currency: v.currency, items, shippingFee: v.shippingFee ?? 0,
  };
  if (v.confirmationWindowSeconds) b.confirmationWindowSeconds = Number.parseInt(v.confirmationWindowSeconds, 10);
  if (v.promisedDeliveryBy) b.promisedDeliveryBy = new Date(v.promisedDeliveryBy + "T23:59:59").toISOString();
  return b;
}

export async function newOrderView(main, { query, go }) {
  // Items are numbered in order, so that a problem about items[i] names the i-th row; only the
  // last row can be removed.
  const items = h("div", { class: "items" });
  const remove = h("button", { type: "button", disabled: true }, "Remove last item");
  const addItem = () => {
    items.append(itemRow(items.children.length));
    remove.disabled = items.children.length < 2;
    syncCurrency();
  };
  remove.addEventListener("click", () => {
    if (items.children.length > 1) items.lastElementChild.remove();
    remove.disabled = items.children.length < 2;
  });
  const stamp = new Date().toISOString().replace(/[-:T.Z]/g, "").slice(2, 14);
  const f = form({
    id: "form-createOrder",
    title: "",
    fields: [
      h("div", { class: "grid two" },
        h("fieldset", {}, h("legend", {}, "Order"),
          field({ name: "orderId", label: "Order ID", value: "ord-" + stamp, required: true }),
          field({ name: "merchantId", label: "Merchant ID", value: query.get("merchant") || "", required: true }),
          field({ name: "sellerCountry", label: "Seller country", required: true, hint: "ISO 3166-1 alpha-2, e.g. DE" }),
          field({ name: "currency", label: "Currency", value: "EUR", required: true, hint: "ISO 4217, e.g. EUR" }),
          field({ name: "shippingFee", label: "Shipping fee", type: "money", currency: "EUR", value: "0", required: true }),
          field({ name: "confirmationWindowSeconds", label: "Confirmation window (seconds)", type: "number", min: 60, hint: "after delivery, before anyone may release; 7 days when empty" }),
          field({ name: "promisedDeliveryBy", label: "Promised delivery by", type: "date" })),
        h("fieldset", {}, h("legend", {}, "Buyer"),
          field({ name: "buyer.id", label: "Buyer ID (pseudonymous, public)", required: true }),
          field({ name: "buyer.country", label: "Buyer country", required: true, hint: "ISO 3166-1 alpha-2" }),
          field({ name: "buyer.name", label: "Name", required: true, hint: "private: Merchant, Carrier, Customs" }),
          field({ name: "buyer.address", label: "Address", type: "textarea", rows: 2, required: true, hint: "private" }),
          field({ name: "buyer.phone", label: "Phone", required: true, hint: "private" }))),
      h("h2", {}, "Items"),
      h("div", { class: "field", dataset: { field: "items" } }, items, h("p", { class: "field-error", role: "alert", hidden: true }),
        h("div", { class: "actions" }, h("button", { type: "button", onclick: addItem }, "Add item"), remove)),
    ],
    submit: "Create order",
    send: (v, idem) => call("POST", "/api/v1/orders", { body: body(v), idempotencyKey: idem }),
    onDone: (o) => go("/orders/" + encodeURIComponent(o.orderId)),
  });
  const syncCurrency = () => {
    const c = f.elements.currency.value.trim().toUpperCase();
    if (!/^[A-Z]{3}$/.test(c)) return;
    for (const input of f.querySelectorAll("input[data-kind=money]")) {
      input.dataset.currency = c;
      const text = input.closest(".field").querySelector("label").firstChild;
      text.textContent = text.textContent.replace(/\([A-Z]*\)$/, `(${c})`);
    }
  };
  f.elements.currency.addEventListener("input", syncCurrency);
  addItem();
  main.append(h("h1", {}, "New order"),
    h("p", { class: "muted" }, "The chaincode computes each line total and the order total; the buyer's name, address and phone go to the private collection, only their salted hash is public."),
    f);
}
