"use strict";
(() => {
  const token = decodeURIComponent(location.pathname.split("/").pop());
  const api = "/api/v1/track/" + encodeURIComponent(token);
  const el = (id) => document.getElementById(id);
  let view = null;

  function money(amount, currency) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    } catch (e) { /* unknown currency: two decimals */ }
    return (amount / 10 ** digits).toFixed(digits) + " " + currency;
  }

  function text(id, value) { el(id).textContent = value; }

  function render(v) {
    view = v;
    text("order-id", v.orderId);
    text("order-status", v.status);
    text("order-total", money(v.total, v.currency));
    const held = v.escrow.amount - v.escrow.released - v.escrow.refunded;
    text("payment-held", v.payment.paid ? (v.payment.held ? "yes, " + money(held, v.currency) : "no longer") : "not paid yet");
    text("escrow-released", money(v.escrow.released, v.currency));
    text("escrow-refunded", money(v.escrow.refunded, v.currency));
    text("customs", v.customs.decision ? v.customs.decision + (v.customs.decidedAt ? " (" + v.customs.decidedAt + ")" : "") : "no decision yet");
    const d = v.deadlines || {};
    text("deadlines", [d.shipBy ? "ship by " + d.shipBy : "", d.deliverBy ? "deliver by " + d.deliverBy : ""].filter(Boolean).join("; ") || "none");
    const t = v.paymentTerms || { kind: "FULL_ESCROW" };
    text("terms", t.kind + (t.clearanceShareBps ? ", " + t.clearanceShareBps / 100 + " % at customs clearance" : "") +
      (t.autoReleaseDays ? ", released " + t.autoReleaseDays + " days after delivery" : ""));
    const list = el("checkpoints");
    list.replaceChildren(...(v.checkpoints || []).map((c) => {
      const li = document.createElement("li");
      li.textContent = c.code + " — " + c.location + " — " + c.recordedAt;
      return li;
    }));
    if ((v.checkpoints || []).length === 0) {
      const li = document.createElement("li");
      li.textContent = "none yet";
      list.replaceChildren(li);
    }
    el("progress").hidden = false;
    if (v.buyerKeyThumbprint) {
      text("thumbprint", v.buyerKeyThumbprint);
      el("sign").hidden = false;
    }
  }

  async function load() {
    const r = await fetch(api, { headers: { Accept: "application/json" }, cache: "no-store" });
    const body = await r.json();
    if (!r.ok) {
      text("status", body.detail || "This tracking link does not work (" + r.status + ").");
      return null;
    }
    text("status", "Updated " + new Date().toLocaleTimeString());
    render(body);
    return body;
  }

  function b64url(bytes) {
    let s = "";
    new Uint8Array(bytes).forEach((b) => { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function nonce() {
    return b64url(crypto.getRandomValues(new Uint8Array(16)));
  }

  // The canonical statement of docs/chaincode.md, "Buyer statements".
  function statement(action, reason) {
    const expires = new Date(Date.now() + 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    return ["xborder-buyer-statement/v1", "orderId:" + view.orderId, "action:" + action, "orderVersion:" + view.version,
      "nonce:" + nonce(), "expiresAt:" + expires, "reason:" + reason].join("\n");
  }

  async function sign(action) {
    const out = el("sign-result");
    try {
      if (!(await load())) return;
      const jwk = JSON.parse(el("key").value);
      const key = await crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d },
        { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
      const reason = action === "CONFIRM_RECEIPT" ? "" : el("reason").value.trim();
      const st = statement(action, reason);
      const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(st));
      const r = await fetch(api + "/statements", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ statement: st, signature: b64url(sig) }),
      });
      const body = await r.json();
      out.textContent = r.ok ? "Done: the order is " + body.status + "." : (body.detail || "Refused (" + r.status + ").");
      await load();
    } catch (e) {
      out.textContent = "Could not sign: " + e.message;
    }
  }

  document.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", () => sign(b.dataset.action)));
  load().catch((e) => text("status", "Could not load the order: " + e.message));
})();
