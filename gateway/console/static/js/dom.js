// Building DOM nodes without innerHTML: every value is set as text or as an attribute, so no
// data from the ledger is ever parsed as HTML.

/**
 * h creates an element. attrs: attributes, with "class", "dataset" (object), "on<event>"
 * handlers and boolean attributes (true sets, false/null/undefined omit). children: nodes,
 * strings, numbers, arrays of those, or null/undefined/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = tag.includes(":")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(tag.indexOf(":") + 1))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") {
      for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    } else if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "value" && "value" in el && !tag.includes(":")) {
      el.value = v;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

/** svg creates an SVG element (h with the svg: prefix). */
export function svg(tag, attrs, ...children) {
  return h("svg:" + tag, attrs, ...children);
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** replace empties el and appends children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** announce says message to screen readers (and shows it in the status line). */
export function announce(message, kind = "info") {
  const live = document.getElementById("live-status");
  if (!live) return;
  live.className = "status-line " + kind;
  live.textContent = message;
}
