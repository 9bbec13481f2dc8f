// The channel explorer: blocks newest first, each block's transactions with creator,
// endorsers, function, event and validation code, and a transaction search.

import { h, replace } from "../dom.js";
import { call, live, Problem } from "../api.js";
import { time, shortHash } from "../format.js";
import { table, pager, facts, card, notice } from "../ui.js";

function txSearch(go, value = "") {
  const input = h("input", { id: "tx-search", name: "txId", value, placeholder: "64 hex digits", autocomplete: "off", spellcheck: "false" });
  const msg = h("p", { class: "field-error", role: "alert", hidden: true });
  const f = h("form", { id: "tx-search-form", class: "filters", role: "search", "aria-label": "Find a transaction" },
    h("div", { class: "field wide" }, h("label", { for: "tx-search" }, "Transaction ID"), input, msg),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Find")));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.hidden = true;
    const id = input.value.trim().toLowerCase();
    try {
      const st = await call("GET", "/api/v1/transactions/" + encodeURIComponent(id));
      go(`/channel/${st.blockNumber}?tx=${id}`);
    } catch (e) {
      msg.textContent = e.message;
      msg.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  });
  return f;
}

export async function channelView(main, { query, go }) {
  if (query.get("tx")) {
    try {
      const st = await call("GET", "/api/v1/transactions/" + encodeURIComponent(query.get("tx")));
      go(`/channel/${st.blockNumber}?tx=${query.get("tx")}`);
      return;
    } catch (e) {
      main.append(notice(e.message, "error"));
    }
  }
  const list = h("div", { id: "blocks" });
  const head = h("p", { class: "muted", id: "chain-height" });
  main.append(h("h1", {}, "Channel explorer"),
    h("p", { class: "muted" }, "Blocks as your organisation's peer holds them (qscc), newest first. Every transaction stays in its block with its validation code, valid or not."),
    txSearch(go, query.get("tx") || ""), head, list);
  const bookmarks = [""];
  let page = 0;
  let next = "";

  async function load() {
    let res;
    try {
      res = await call("GET", "/api/v1/blocks", { query: { pageSize: 15, bookmark: bookmarks[page] } });
    } catch (e) {
      replace(list, notice(e.message, "error"));
      return;
    }
    next = res.bookmark;
    head.textContent = `The chain has ${res.height} blocks.`;
    replace(list, table("Blocks", [
      { label: "Block", cell: (b) => h("a", { href: "#/channel/" + b.number }, "#" + b.number), header: true },
      { label: "Time", cell: (b) => time(b.timestamp), class: "nowrap" },
      { label: "Transactions", cell: (b) => String(b.txCount), class: "num" },
      { label: "Valid", cell: (b) => (b.validCount === b.txCount ? String(b.validCount) : h("span", { class: "bad" }, `${b.validCount} of ${b.txCount}`)), class: "num" },
      { label: "Hash", cell: (b) => h("code", { title: b.hash }, shortHash(b.hash, 16)) },
    ], res.items, { key: (b) => String(b.number) }),
    pager({ hasPrev: page > 0, hasNext: !!next, label: "Block pages", prevLabel: "← Newer blocks", nextLabel: "Older blocks →",
      onPrev: () => { page--; load(); }, onNext: () => { bookmarks[page + 1] = next; page++; load(); } }));
  }
  await load();
  let pending = 0;
  return live.subscribe(() => {
    if (page !== 0) return;
    clearTimeout(pending);
    pending = setTimeout(load, 200);
  });
}

export async function blockView(main, { params, query }) {
  const n = params[0];
  const highlight = query.get("tx");
  let b;
  try {
    b = await call("GET", "/api/v1/blocks/" + n);
  } catch (e) {
    main.append(h("h1", {}, "Block #" + n), notice(e instanceof Problem && e.status === 404 ? e.message : e.message, "error"));
    return;
  }
  const num = Number(n);
  const rows = b.transactions || [];
  const t = table(`Transactions of block ${n}`, [
    { label: "#", cell: (x) => String(x.index), class: "num" },
    { label: "Transaction", cell: (x) => h("code", { title: x.txId }, shortHash(x.txId, 16)), header: true },
    { label: "Time", cell: (x) => time(x.timestamp), class: "nowrap" },
    { label: "Creator", cell: (x) => [h("strong", {}, x.creator?.mspId), x.creator?.name ? h("br") : null, x.creator?.name ? h("small", {}, x.creator.name) : null] },
    { label: "Endorsers", cell: (x) => (x.endorsers || []).map((e) => h("div", { title: e.name }, e.mspId)) },
    { label: "Function", cell: (x) => (x.function ? h("code", {}, (x.chaincode ? x.chaincode + ":" : "") + x.function) : x.type) },
    { label: "Event", cell: (x) => x.event || "—" },
    { label: "Validation", cell: (x) => h("span", { class: x.valid ? "ok" : "bad" }, x.validationCode) },
  ], rows, { key: (x) => x.txId, class: "txs" });
  main.append(
    h("h1", {}, "Block #" + n),
    h("nav", { class: "pager", "aria-label": "Neighbouring blocks" },
      num > 0 ? h("a", { class: "button", href: "#/channel/" + (num - 1) }, "← Block " + (num - 1)) : null,
      h("a", { class: "button", href: "#/channel" }, "All blocks"),
      h("a", { class: "button", href: "#/channel/" + (num + 1) }, "Block " + (num + 1) + " →")),
    card("Header", facts([
      ["Time", time(b.timestamp)], ["Transactions", `${b.txCount} (${b.validCount} valid)`],
      ["Hash", h("code", { class: "wrap" }, b.hash)], ["Previous hash", h("code", { class: "wrap" }, b.previousHash || "— (genesis)")],
      ["Data hash", h("code", { class: "wrap" }, b.dataHash)],
    ])),
    card("Transactions", t));
  if (highlight) {
    const row = t.querySelector(`tr[data-key="${CSS.escape(highlight)}"]`);
    if (row) {
      row.classList.add("highlight");
      row.setAttribute("aria-current", "true");
    }
  }
}
