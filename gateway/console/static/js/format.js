// Formatting money, times and identities. Money is an integer count of the currency's minor
// units everywhere in the API; conversions here use BigInt and strings, never floating point.

// ISO 4217 minor-unit exponents that are not 2.
const EXPONENTS = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0,
  UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

/** exponent returns the number of decimals of currency (2 unless ISO 4217 says otherwise). */
export function exponent(currency) {
  return currency in EXPONENTS ? EXPONENTS[currency] : 2;
}

/** money renders minor units as "1,234.50 EUR". */
export function money(minor, currency) {
  if (minor === undefined || minor === null || minor === "") return "—";
  const e = exponent(currency);
  let n = BigInt(minor);
  const neg = n < 0n;
  if (neg) n = -n;
  const s = n.toString().padStart(e + 1, "0");
  const whole = s.slice(0, s.length - e).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const frac = e > 0 ? "." + s.slice(s.length - e) : "";
  return (neg ? "-" : "") + whole + frac + (currency ? " " + currency : "");
}

/** majorUnits renders minor units as a plain decimal for an input field ("12.50"). */
export function majorUnits(minor, currency) {
  return money(minor, "").replaceAll(",", "").trim() || "0";
}

/**
 * parseMoney reads a decimal in major units ("12.5") as minor units of currency. It returns
 * {value} or {error} with a message for the field.
 */
export function parseMoney(text, currency) {
  const t = String(text).trim();
  const e = exponent(currency);
  const m = /^(\d+)(?:\.(\d*))?$/.exec(t);
  if (!m) return { error: "enter an amount such as 12" + (e > 0 ? "." + "5".padEnd(e, "0") : "") };
  const frac = m[2] || "";
  if (frac.length > e) return { error: `${currency} has ${e} decimal${e === 1 ? "" : "s"}` };
  const v = BigInt(m[1] + frac.padEnd(e, "0"));
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return { error: "amount too large" };
  return { value: Number(v) };
}

/**
 * convert returns amount (minor units of `from`) × rate (a decimal string) in minor units of
 * `to`, rounded half to even: the payer amount the chaincode expects for an FX payment.
 */
export function convert(amount, from, rate, to) {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(rate).trim());
  if (!m || amount === undefined) return undefined;
  const frac = m[2] || "";
  const num = BigInt(amount) * BigInt(m[1] + frac) * 10n ** BigInt(exponent(to));
  const den = 10n ** BigInt(frac.length + exponent(from));
  let q = num / den;
  const r = num % den;
  if (r * 2n > den || (r * 2n === den && q % 2n === 1n)) q += 1n;
  return Number(q);
}

function pad(n) {
  return String(n).padStart(2, "0");
}

/** time renders an RFC 3339 timestamp as local "YYYY-MM-DD HH:MM:SS". */
export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** day renders a Date as local "YYYY-MM-DD". */
export function day(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** duration renders milliseconds as "2 d 3 h", "4 h 5 min", "12 s". */
export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ${s % 60} s`;
  const hours = Math.floor(min / 60);
  if (hours < 48) return `${hours} h ${min % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/**
 * who renders an identity in short form: an {mspId, name} object, or the common name found in
 * an X.509 identity string ("x509::CN=User1@bank...,OU=client,...").
 */
export function who(identity) {
  if (!identity) return "";
  if (typeof identity === "object") return identity.name || identity.mspId || "";
  const m = /CN=([^,:]+)/.exec(identity);
  return m ? m[1] : identity;
}

/** shortHash abbreviates a transaction ID or hash for tables (the full value is a title). */
export function shortHash(s, n = 10) {
  if (!s) return "";
  return s.length > n ? s.slice(0, n) + "…" : s;
}

/** statusLabel renders an order status for people ("IN_TRANSIT" → "in transit"). */
export function statusLabel(status) {
  return (status || "").toLowerCase().replaceAll("_", " ");
}
