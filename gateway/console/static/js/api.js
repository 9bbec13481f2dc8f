// The console's only way to the gateway: REST calls with the signed-in API key, problem+json
// errors as Problem values, and the live event stream.
//
// The API key lives in sessionStorage only: it is gone when the tab closes, never put in a URL
// or in localStorage. The event stream (EventSource cannot send headers) is opened with a
// single-use ticket from POST /api/v1/events/tickets instead of the key.
//
// A credential is anything with headers(): the signed-in key today. The buyer's tracking page
// (a capability link) would bring its own credential and views that do not need a key.

const KEY = "xborder.apiKey";

/** Problem is an API error: RFC 9457 problem details with xborder's code and field. */
export class Problem extends Error {
  constructor(p, status) {
    super(p.detail || p.title || `HTTP ${status}`);
    this.problem = p;
    this.status = status;
    this.code = p.code || "";
    this.field = p.field || "";
    this.details = p.details || [];
  }
}

/** keyCredential authenticates with an API key. */
export function keyCredential(key) {
  return { headers: () => ({ Authorization: "Bearer " + key }) };
}

/** session is the signed-in API key and what GET /api/v1/me says about it. */
export const session = {
  me: null,
  credential() {
    const key = sessionStorage.getItem(KEY);
    return key ? keyCredential(key) : null;
  },
  /** signIn checks key with GET /api/v1/me and keeps it for this browser tab. */
  async signIn(key) {
    const me = await call("GET", "/api/v1/me", { credential: keyCredential(key) });
    sessionStorage.setItem(KEY, key);
    this.me = me;
    return me;
  },
  /** restore reloads who the stored key is (after a page reload). */
  async restore() {
    if (!this.credential()) return null;
    try {
      this.me = await call("GET", "/api/v1/me");
    } catch (e) {
      if (e instanceof Problem && e.status === 401) this.signOut();
      else throw e;
    }
    return this.me;
  },
  signOut() {
    sessionStorage.removeItem(KEY);
    this.me = null;
  },
  /** can reports whether the caller's organisation may call operationId. */
  can(operationId) {
    return !!this.me && this.me.operations.includes(operationId);
  },
};

/** onUnauthenticated is called when the gateway refuses the stored key. */
export let onUnauthenticated = () => {};
export function setOnUnauthenticated(f) {
  onUnauthenticated = f;
}

/**
 * call sends one request. opts: body (JSON), query (object; empty values dropped),
 * idempotencyKey, credential (default: the session's). It returns the parsed JSON answer and
 * throws Problem on an error answer.
 */
export async function call(method, path, opts = {}) {
  const credential = opts.credential || session.credential();
  const headers = { Accept: "application/json", ...(credential ? credential.headers() : {}) };
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== "") q.set(k, v);
    }
    const s = q.toString();
    if (s) url += "?" + s;
  }
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new Problem({ code: "UNAVAILABLE", detail: "the gateway cannot be reached: " + e.message }, 0);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text };
    }
  }
  if (!res.ok) {
    const p = new Problem(data || {}, res.status);
    if (res.status === 401 && !opts.credential) onUnauthenticated(p);
    throw p;
  }
  return data;
}

/** newIdempotencyKey names one user action, so that a retried submission is not doubled. */
export function newIdempotencyKey() {
  return "console-" + crypto.randomUUID();
}

// The chaincode events of the design (section 5). EventSource delivers named events only to
// listeners of that name.
export const EVENT_NAMES = [
  "OrderCreated", "PaymentEscrowed", "WaybillRegistered", "CustomsDeclared", "CustomsDecided",
  "CheckpointRecorded", "PaymentReleased", "DisputeOpened", "DisputeResolved", "Refunded",
  "OrderCancelled", "ComplianceAlert", "ComplianceRulesSet", "DocumentAnchored",
];

/**
 * live is the console's one event stream: listeners get every chaincode event
 * ({id, name, txId, blockNumber, orderId, payload}). After an error it reconnects with a new
 * ticket and resumes after the last event it delivered, so nothing is lost or repeated.
 */
export const live = {
  listeners: new Set(),
  source: null,
  lastId: "",
  state: "off",
  retry: 1000,
  timer: 0,
  generation: 0,

  subscribe(f) {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  },

  setState(state) {
    this.state = state;
    const el = document.getElementById("live-indicator");
    if (el) {
      el.dataset.state = state;
      el.textContent = { live: "live", connecting: "connecting…", reconnecting: "reconnecting…", off: "offline" }[state];
      el.title = state === "live" ? "Receiving ledger events as they commit" : "Not receiving ledger events";
    }
  },

  async start() {
    this.stop();
    const gen = ++this.generation;
    this.setState(this.lastId ? "reconnecting" : "connecting");
    let ticket;
    try {
      ticket = await call("POST", "/api/v1/events/tickets");
    } catch (e) {
      if (gen === this.generation && session.me) this.later(gen);
      return;
    }
    if (gen !== this.generation) return;
    let url = ticket.streamUrl;
    if (this.lastId) url += "&after=" + encodeURIComponent(this.lastId);
    const es = new EventSource(url);
    this.source = es;
    es.onopen = () => {
      this.retry = 1000;
      this.setState("live");
    };
    es.onerror = () => {
      // The ticket is single-use: EventSource's own reconnection would be refused.
      es.close();
      if (gen === this.generation) this.later(gen);
    };
    const deliver = (m) => {
      this.lastId = m.lastEventId || this.lastId;
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch {
        return;
      }
      ev.id = m.lastEventId;
      for (const f of this.listeners) f(ev);
    };
    for (const name of EVENT_NAMES) es.addEventListener(name, deliver);
    es.addEventListener("message", deliver);
  },

  later(gen) {
    this.setState("reconnecting");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (gen === this.generation) this.start();
    }, this.retry);
    this.retry = Math.min(this.retry * 2, 15000);
  },

  stop() {
    this.generation++;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
    this.setState("off");
  },
};
