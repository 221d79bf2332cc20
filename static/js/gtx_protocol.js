// The GridTokenX protocol in the browser: canonical JSON and a transaction's signing bytes,
// byte for byte as docs/PROTOCOL.md (sections 2 and 5) and chain/ledger/encoding.py say.
// tests/web/test_protocol_js.py holds this file to the Python encoder on tricky strings.
//
// An ES module without dependencies: self_custody.js imports it, and so does node in the test.

export const TX_DOMAIN = "GRIDTOKENX/TX/V1\n";
export const LINK_DOMAIN = "GRIDTOKENX/LINK/V1\n";
export const MAX_SAFE_INTEGER = 9007199254740991; // 2^53 - 1, as chain.ledger.encoding
const MAX_DEPTH = 8;
const SHORT_ESCAPES = { 0x22: '\\"', 0x5c: "\\\\", 0x08: "\\b", 0x0c: "\\f", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t" };

export class EncodingError extends Error {}

// A JSON string as Python's json.dumps(ensure_ascii=True) writes it: per UTF-16 code unit,
// the short escapes, else anything outside U+0020..U+007E (U+007F included) as \uXXXX in
// lowercase hex; characters above U+FFFF come out as their surrogate pair that way.
export function jsonString(text) {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const short = SHORT_ESCAPES[unit];
    if (short !== undefined) out += short;
    else if (unit < 0x20 || unit > 0x7e) out += "\\u" + unit.toString(16).padStart(4, "0");
    else out += text[i];
  }
  return out + '"';
}

// Python sorts keys by code point; JavaScript's default sort compares UTF-16 code units,
// which differs once a key holds a character above U+FFFF and another one in U+E000..U+FFFF.
export function compareCodePoints(a, b) {
  const left = Array.from(a, (c) => c.codePointAt(0));
  const right = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] !== right[i]) return left[i] - right[i];
  }
  return left.length - right.length;
}

function encode(value, depth) {
  if (depth > MAX_DEPTH) throw new EncodingError("Value nests deeper than 8 levels.");
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "string") return jsonString(value);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new EncodingError(value + " is not an integer; use integers.");
    if (Math.abs(value) > MAX_SAFE_INTEGER) throw new EncodingError("Integer " + value + " is outside ±(2^53 - 1).");
    return Object.is(value, -0) ? "0" : String(value);
  }
  if (Array.isArray(value)) return "[" + value.map((item) => encode(item, depth + 1)).join(",") + "]";
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const keys = Object.keys(value).sort(compareCodePoints);
    return "{" + keys.map((key) => jsonString(key) + ":" + encode(value[key], depth + 1)).join(",") + "}";
  }
  throw new EncodingError(typeof value + " values are not allowed.");
}

// The one canonical encoding, as a string of ASCII characters.
export function canonicalJson(value) {
  return encode(value, 0);
}

export function asciiBytes(text) {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// What the sender signs and what the hash covers (PROTOCOL.md 5.2).
export function txSigningBytes({ chain_id, sender, nonce, kind, payload }) {
  return asciiBytes(TX_DOMAIN + canonicalJson({ chain_id, kind, nonce, payload, sender }));
}

// What a browser signs to link its key to a new login (PROTOCOL.md 4.1).
export function linkMessageBytes({ address, chain_id, challenge, site, username }) {
  return asciiBytes(LINK_DOMAIN + canonicalJson({ address, chain_id, challenge, site, username }));
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function hexToBytes(hex) {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new EncodingError("Not lowercase hex.");
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

// "12.5" with at most ``decimals`` places as a whole number of the smallest unit (12.5 with 6
// places: 12500000), exactly, without floating point; null for anything else.
export function decimalToUnits(text, decimals) {
  const match = /^([0-9]+)(?:\.([0-9]*))?$|^\.([0-9]+)$/.exec(text.trim());
  if (match === null) return null;
  const whole = match[1] || "0";
  const fraction = match[2] !== undefined ? match[2] : match[3] || "";
  if (fraction.length > decimals) return null;
  const units = BigInt(whole) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  return units > BigInt(MAX_SAFE_INTEGER) ? null : Number(units);
}
