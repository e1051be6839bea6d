/**
 * Bytes and the text spellings of them that the protocol uses: strict base64, hex and UTF-8.
 *
 * Base64 is read strictly, as `client/protocol/note.py` reads it: the standard alphabet with
 * its padding, and only the one canonical spelling of any bytes (no stray low bits, no
 * whitespace). So one value has one text, and a signature or root cannot be respelled.
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** @type {Map<string, number>} */
const DIGIT = new Map([...ALPHABET].map((char, value) => [char, value]));
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The standard base64 of `bytes`, with padding.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b = 0, c = 0] = bytes.subarray(i, i + 3);
    const left = bytes.length - i;
    text += ALPHABET[a >> 2] + ALPHABET[((a & 3) << 4) | (b >> 4)];
    text += left > 1 ? ALPHABET[((b & 15) << 2) | (c >> 6)] : "=";
    text += left > 2 ? ALPHABET[c & 63] : "=";
  }
  return text;
}

/**
 * The bytes that `text` is the canonical standard base64 of.
 * @param {string} text
 * @returns {Uint8Array}
 * @throws {RangeError} `text` is not base64, or not the canonical spelling of its bytes
 */
export function fromBase64(text) {
  if (typeof text !== "string" || !BASE64.test(text)) {
    throw new RangeError(`${JSON.stringify(text)} is not base64`);
  }
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const bytes = new Uint8Array((text.length / 4) * 3 - padding);
  let bits = 0;
  let count = 0;
  let at = 0;
  for (const char of text.slice(0, text.length - padding)) {
    bits = (bits << 6) | /** @type {number} */ (DIGIT.get(char));
    count += 6;
    if (count >= 8) {
      count -= 8;
      bytes[at++] = (bits >> count) & 0xff;
    }
  }
  // The bits left over after the last byte must be zero, or a second spelling would exist.
  if ((bits & ((1 << count) - 1)) !== 0) {
    throw new RangeError(`${JSON.stringify(text)} is not canonical base64`);
  }
  return bytes;
}

/**
 * Lower-case hex.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toHex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The bytes of lower- or upper-case hex.
 * @param {string} text
 * @returns {Uint8Array}
 * @throws {RangeError} `text` is not an even number of hex digits
 */
export function fromHex(text) {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(text)) {
    throw new RangeError(`${JSON.stringify(text)} is not hex`);
  }
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/**
 * Whether `text` has a UTF-8 spelling: no lone UTF-16 surrogate in it.
 * @param {string} text
 * @returns {boolean}
 */
export function isWellFormed(text) {
  return !LONE_SURROGATE.test(text);
}

/**
 * The UTF-8 bytes of `text`.
 *
 * Unlike `TextEncoder`, which writes U+FFFD for a lone surrogate, this refuses one: two
 * different strings must never become the same signed or hashed bytes.
 * @param {string} text
 * @returns {Uint8Array}
 * @throws {RangeError} `text` holds a lone surrogate
 */
export function utf8(text) {
  if (!isWellFormed(text)) throw new RangeError("the text holds a lone surrogate: it has no UTF-8");
  return new TextEncoder().encode(text);
}

/**
 * The bytes of each part, one after the other.
 * @param {...Uint8Array} parts
 * @returns {Uint8Array}
 */
export function concat(...parts) {
  const joined = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

/**
 * Whether two byte strings are the same. Not constant-time: for public values such as
 * hashes, never for secrets.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {boolean}
 */
export function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
