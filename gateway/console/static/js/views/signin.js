// Sign-in with an API key: GET /api/v1/me tells who it is; the key is kept for this tab only.

import { h, announce } from "../dom.js";
import { session, Problem } from "../api.js";
import { field, form } from "../forms.js";

export async function signInView(main, { query, onSignedIn }) {
  if (session.me) {
    onSignedIn(query.get("next"));
    return;
  }
  const f = form({
    id: "signin-form",
    title: "Sign in",
    description: "Paste your organisation's API key. It stays in this browser tab only (session storage) and goes to this gateway in the Authorization header; it is never put in a URL.",
    fields: [field({ name: "Authorization", label: "API key", type: "password", required: true, autocomplete: "off" })],
    submit: "Sign in",
    send: async (v) => {
      const key = (v.Authorization || "").trim().replace(/^Bearer\s+/i, "");
      if (!key) throw new Problem({ code: "UNAUTHENTICATED", field: "Authorization", detail: "enter an API key" }, 401);
      try {
        return await session.signIn(key);
      } catch (e) {
        // The gateway's 401 is about the key: show it next to the key field.
        if (e instanceof Problem && e.status === 401) throw new Problem({ ...e.problem, field: "Authorization" }, 401);
        throw e;
      }
    },
    onDone: (me) => {
      announce(`Signed in as ${me.user} of ${me.mspId}.`, "ok");
      onSignedIn(query.get("next"));
    },
  });
  main.append(
    h("h1", {}, "xborder console"),
    h("p", {}, "Orders, escrow, customs, logistics and the channel, as your organisation sees them. What you can do is decided by the ledger's chaincode; the console offers only what your organisation's key may do."),
    f,
    h("p", { class: "muted" }, "With ", h("code", {}, "xborder dev"), ", the keys are printed at start and kept in ",
      h("code", {}, "xborder-data/dev-credentials.json"), ". The API reference is at ", h("a", { href: "/docs" }, "/docs"), "."));
  f.querySelector("input").focus();
}
