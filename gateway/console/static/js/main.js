// The console's shell: routes (hash-based, so every view has a bookmarkable address and the
// gateway serves one page), navigation by what the signed-in organisation may do, sign-in and
// sign-out, and the live event stream.

import { h, replace, announce } from "./dom.js";
import { session, live, setOnUnauthenticated } from "./api.js";
import { signInView } from "./views/signin.js";
import { boardView } from "./views/board.js";
import { orderView } from "./views/order.js";
import { newOrderView } from "./views/neworder.js";
import { complianceView } from "./views/compliance.js";
import { auditView } from "./views/audit.js";
import { channelView, blockView } from "./views/channel.js";
import { reportsView } from "./views/reports.js";

/**
 * routes: pattern on the path after "#", the view, and who may see it: `public` views need no
 * API key (sign-in; a buyer's tracking page by capability link belongs here too), others need
 * a key whose organisation may call one of `needs` (operationIds of GET /api/v1/me).
 */
const routes = [
  { re: /^\/signin$/, view: signInView, public: true, title: "Sign in" },
  { re: /^\/orders$/, view: boardView, needs: ["listOrders"], nav: "Orders", href: "/orders", title: "Orders" },
  { re: /^\/orders\/new$/, view: newOrderView, needs: ["createOrder"], nav: "New order", href: "/orders/new", title: "New order" },
  { re: /^\/orders\/([^/]+)$/, view: orderView, needs: ["getOrder"], title: "Order" },
  { re: /^\/compliance$/, view: complianceView, needs: ["listComplianceAlerts", "getComplianceRules"], nav: "Compliance", href: "/compliance", title: "Compliance" },
  { re: /^\/audit(?:\/([^/]+))?$/, view: auditView, needs: ["getOrderHistory"], nav: "Audit trail", href: "/audit", title: "Audit trail" },
  { re: /^\/channel$/, view: channelView, needs: ["listBlocks"], nav: "Channel", href: "/channel", title: "Channel explorer" },
  { re: /^\/channel\/(\d+)$/, view: blockView, needs: ["getBlock"], title: "Block" },
  { re: /^\/reports$/, view: reportsView, needs: ["getSettlementReport", "getMerchantCredit"], nav: "Reports", href: "/reports", title: "Reports" },
];

const allowed = (r) => r.public || (session.me && r.needs.some((op) => session.can(op)));

let cleanup = null;

/** parseHash splits "#/orders?status=PAID" into a path and its query. */
function parseHash() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, qs] = raw.split("?", 2);
  return { path, query: new URLSearchParams(qs || "") };
}

/** go navigates to a console path such as "/orders/o-1". */
export function go(path) {
  location.hash = "#" + path;
}

function renderNav(current) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!session.me) {
    replace(nav);
    replace(who);
    return;
  }
  replace(nav, h("ul", {}, routes.filter((r) => r.nav && allowed(r)).map((r) =>
    h("li", {}, h("a", { href: "#" + r.href, "aria-current": current === r ? "page" : null }, r.nav)))));
  replace(who,
    h("span", { class: "org", title: "Signed in as " + session.me.user + " (" + session.me.keyId + ")" }, session.me.mspId),
    h("span", { class: "user" }, session.me.user),
    h("span", { id: "live-indicator", class: "live", dataset: { state: live.state } }, live.state),
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"));
  live.setState(live.state);
}

function signOut() {
  live.stop();
  live.lastId = "";
  session.signOut();
  announce("Signed out.");
  go("/signin");
}

async function route() {
  const { path, query } = parseHash();
  if (path === "/" || path === "") {
    go(session.me ? "/orders" : "/signin");
    return;
  }
  let match = null;
  let r = null;
  for (const candidate of routes) {
    match = candidate.re.exec(path);
    if (match) {
      r = candidate;
      break;
    }
  }
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const main = document.getElementById("main");
  if (r && !r.public && !session.me) {
    go("/signin?next=" + encodeURIComponent(path));
    return;
  }
  renderNav(r);
  if (!r) {
    replace(main, h("h1", {}, "Not found"), h("p", {}, "No console page at " + path + "."), h("a", { href: "#/" }, "Home"));
    return;
  }
  if (!allowed(r)) {
    replace(main, h("h1", {}, r.title),
      h("p", { class: "notice" }, `${session.me.mspId} may not use this page: its API key is not allowed ${r.needs.join(" or ")}.`));
    return;
  }
  document.title = r.title + " · xborder console";
  replace(main);
  const params = match.slice(1).map((p) => (p === undefined ? undefined : decodeURIComponent(p)));
  try {
    cleanup = (await r.view(main, { params, query, go, onSignedIn })) || null;
  } catch (e) {
    replace(main, h("h1", {}, r.title), h("p", { class: "notice error", role: "alert" }, e.message || String(e)));
  }
  const heading = main.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

/** onSignedIn starts the live stream and goes where the user was going. */
function onSignedIn(next) {
  live.start();
  go(next && next.startsWith("/") ? next : "/orders");
}

async function boot() {
  document.getElementById("skip-link").addEventListener("click", (ev) => {
    ev.preventDefault();
    document.getElementById("main").focus();
  });
  setOnUnauthenticated(() => {
    live.stop();
    session.signOut();
    announce("The gateway no longer accepts this API key: sign in again.", "error");
    go("/signin");
  });
  try {
    await session.restore();
  } catch (e) {
    announce(e.message, "error");
  }
  if (session.me) live.start();
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#/") || location.hash === "") route();
  });
  route();
}

boot();
