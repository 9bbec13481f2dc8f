// Forms whose fields are named after the API's request fields, so that a problem's `field`
// (a JSON path such as "payerAmount" or "items[0].hsCode") is shown next to the input it names.

import { h, replace, announce } from "./dom.js";
import { Problem, newIdempotencyKey } from "./api.js";
import { parseMoney } from "./format.js";

let seq = 0;

/**
 * field renders one labelled input. spec: {name, label, type: text|money|number|select|
 * textarea|date|file|hidden, options: [[value, label]], value, required, hint, currency,
 * placeholder, autocomplete}.
 */
export function field(spec) {
  const id = `f${++seq}-${spec.name.replace(/[^A-Za-z0-9]/g, "_")}`;
  const errId = id + "-error";
  const hintId = spec.hint ? id + "-hint" : null;
  const common = {
    id,
    name: spec.name,
    required: spec.required,
    "aria-describedby": [hintId, errId].filter(Boolean).join(" "),
    placeholder: spec.placeholder,
    autocomplete: spec.autocomplete || "off",
  };
  let input;
  switch (spec.type) {
    case "select":
      input = h("select", common, (spec.options || []).map(([v, l]) => h("option", { value: v, selected: v === spec.value }, l)));
      break;
    case "textarea":
      input = h("textarea", { ...common, rows: spec.rows || 3 }, spec.value ?? "");
      break;
    case "money":
      input = h("input", { ...common, type: "text", inputmode: "decimal", value: spec.value ?? "", dataset: { kind: "money", currency: spec.currency || "" } });
      break;
    case "number":
      input = h("input", { ...common, type: "number", step: "1", min: spec.min, value: spec.value ?? "" });
      break;
    case "hidden":
      return h("input", { type: "hidden", name: spec.name, value: spec.value ?? "" });
    default:
      input = h("input", { ...common, type: spec.type || "text", value: spec.value ?? "" });
  }
  const label = spec.type === "money" && spec.currency ? `${spec.label} (${spec.currency})` : spec.label;
  return h("div", { class: "field", dataset: { field: spec.name } },
    h("label", { for: id }, label, spec.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    input,
    spec.hint ? h("small", { id: hintId, class: "hint" }, spec.hint) : null,
    h("p", { id: errId, class: "field-error", role: "alert", hidden: true }));
}

/**
 * form renders a form that sends one API call. opts: {title, fields (nodes), submit (label),
 * send(values) → Promise, onDone(result), danger, description, id}. Each form keeps one
 * Idempotency-Key until a submission succeeds, so a retry after an uncertain answer makes no
 * second transaction.
 */
export function form(opts) {
  const summary = h("div", { class: "form-error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: opts.danger ? "danger" : "primary" }, opts.submit);
  const el = h("form", { class: "action-form", novalidate: true, id: opts.id, "aria-label": opts.title },
    opts.title ? h("h3", {}, opts.title) : null,
    opts.description ? h("p", { class: "muted" }, opts.description) : null,
    summary,
    opts.fields,
    h("div", { class: "actions" }, button));
  let idemKey = newIdempotencyKey();
  // dirty marks a form the user has changed: views keep it when they re-render.
  el.addEventListener("input", () => {
    el.dataset.dirty = "true";
  });
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearProblems(el);
    const values = readValues(el);
    if (values.errors.length) {
      for (const [name, msg] of values.errors) showFieldError(el, name, msg);
      focusFirstError(el);
      return;
    }
    button.disabled = true;
    el.setAttribute("aria-busy", "true");
    let result;
    try {
      result = await opts.send(values.values, idemKey);
    } catch (e) {
      // A definite refusal is stored under the key by the gateway: the corrected request needs
      // a new one. An uncertain outcome (no answer, 5xx) keeps it, so a retry is not doubled.
      if (e instanceof Problem && e.status >= 400 && e.status < 500) idemKey = newIdempotencyKey();
      showProblem(el, e);
      return;
    } finally {
      button.disabled = false;
      el.removeAttribute("aria-busy");
    }
    idemKey = newIdempotencyKey();
    delete el.dataset.dirty;
    if (result && result.txId) announce(`${opts.title || opts.submit}: committed in transaction ${result.txId.slice(0, 12)}…`, "ok");
    if (opts.onDone) await opts.onDone(result);
  });
  return el;
}

/** readValues collects the form's values; money fields are converted to minor units. */
function readValues(el) {
  const values = {};
  const errors = [];
  for (const input of el.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (input.type === "file") continue;
    let v = input.value;
    if (input.dataset.kind === "money") {
      if (v.trim() === "") {
        v = undefined;
      } else {
        const m = parseMoney(v, input.dataset.currency);
        if (m.error) errors.push([input.name, m.error]);
        v = m.value;
      }
    }
    values[input.name] = v;
  }
  return { values, errors };
}

function clearProblems(el) {
  for (const p of el.querySelectorAll(".field-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const i of el.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  const s = el.querySelector(".form-error");
  s.hidden = true;
  s.replaceChildren();
}

/** slotFor finds the field element a problem's field path names: the exact path, else the
 * longest field whose path is a prefix of it ("items[0].hsCode" → "items"). */
function slotFor(el, name) {
  if (!name) return null;
  let best = null;
  for (const f of el.querySelectorAll(".field[data-field]")) {
    const n = f.dataset.field;
    if (n === name) return f;
    if ((name.startsWith(n + ".") || name.startsWith(n + "[")) && (!best || n.length > best.dataset.field.length)) best = f;
  }
  return best;
}

function showFieldError(el, name, message) {
  const slot = slotFor(el, name);
  if (!slot) return false;
  const p = slot.querySelector(".field-error");
  p.textContent = p.textContent ? p.textContent + " " + message : message;
  p.hidden = false;
  const input = slot.querySelector("input, select, textarea");
  if (input) input.setAttribute("aria-invalid", "true");
  return true;
}

function focusFirstError(el) {
  const first = el.querySelector("[aria-invalid=true]");
  if (first) first.focus();
}

/** showProblem shows an API problem next to the field it names, else above the form. */
export function showProblem(el, e) {
  const p = e instanceof Problem ? e : new Problem({ code: "INTERNAL", detail: String(e && e.message ? e.message : e) }, 0);
  const summary = el.querySelector(".form-error");
  const placed = p.field && showFieldError(el, p.field, p.message);
  replace(summary,
    h("strong", {}, p.code ? p.code.replaceAll("_", " ").toLowerCase() : "error"),
    placed ? ` — see ${p.field} below` : ": " + p.message,
    p.details.length ? h("ul", {}, p.details.map((d) => h("li", {}, d))) : null,
    p.problem && p.problem.txId ? h("p", { class: "muted" }, "transaction " + p.problem.txId) : null);
  summary.hidden = false;
  if (placed) focusFirstError(el);
  else summary.focus?.();
  announce(p.message, "error");
}
