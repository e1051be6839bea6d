/**
 * RFC 8785 canonical JSON (JCS): the one spelling of a JSON value, and so the bytes of a
 * Merkle leaf.
 *
 * The server hashes each event as the UTF-8 of its canonical JSON (`rfc8785.dumps` in
 * Python); a browser rebuilds the same bytes from the object it received, whatever order
 * its keys came in. RFC 8785 writes
 *
 * - objects with their keys sorted by their UTF-16 code units, with no whitespace;
 * - numbers as ECMAScript writes them (`String(n)`; -0 as 0), refusing NaN and the infinities;
 * - strings as `JSON.stringify` does (escaping only `"`, `\` and the controls, `\n` style
 *   where one exists, else `\u00XX` in lower-case hex), refusing lone surrogates.
 *
 * JavaScript reads every JSON number as a double, so an integer beyond 2**53 that Python
 * would refuse to canonicalise arrives here already rounded; no Hotline event holds one.
 * `tests/vectors/canonical.json` holds this module and Python's to the same output.
 * @module
 */

import { isWellFormed, utf8 } from "./bytes.js";

/**
 * The canonical JSON text of `value`.
 * @param {unknown} value null, a boolean, a finite number, a string, an array or a plain object
 *   of those
 * @returns {string}
 * @throws {TypeError} a value JSON cannot hold (undefined, a function, a bigint, a class
 *   instance such as Date or Map), or a cycle
 * @throws {RangeError} a number that is not finite, or a string with a lone surrogate
 */
export function canonicalText(value) {
  return write(value, new Set());
}

/**
 * The canonical JSON of `value` as bytes: its UTF-8, the bytes of a leaf.
 * @param {unknown} value
 * @returns {Uint8Array}
 * @throws {TypeError | RangeError} as `canonicalText`
 */
export function canonicalJson(value) {
  return utf8(canonicalText(value));
}

/**
 * @param {unknown} value
 * @param {Set<object>} open the arrays and objects being written, to refuse a cycle
 * @returns {string}
 */
function write(value, open) {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new RangeError(`${value} is not representable in JSON`);
      return JSON.stringify(value); // ECMAScript's Number::toString; -0 becomes 0
    case "string":
      return quote(value);
    case "object":
      break;
    default:
      throw new TypeError(`a value of type ${typeof value} is not JSON`);
  }
  if (open.has(value)) throw new TypeError("the value holds itself: it has no JSON");
  open.add(value);
  let text;
  if (Array.isArray(value)) {
    text = `[${Array.from(value, (item) => write(item, open)).join(",")}]`; // holes refused
  } else {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const kind = prototype?.constructor?.name ?? "class";
      throw new TypeError(`a ${kind} instance is not a JSON object`);
    }
    const record = /** @type {Record<string, unknown>} */ (value);
    // The default sort compares strings by UTF-16 code units, as RFC 8785 §3.2.3 asks.
    const keys = Object.keys(record).sort();
    text = `{${keys.map((key) => `${quote(key)}:${write(record[key], open)}`).join(",")}}`;
  }
  open.delete(value);
  return text;
}

/**
 * @param {string} text
 * @returns {string}
 */
function quote(text) {
  // JSON.stringify would write a lone surrogate as \udXXX; RFC 8785 refuses it instead.
  if (!isWellFormed(text)) {
    throw new RangeError("a string with a lone surrogate has no canonical JSON");
  }
  return JSON.stringify(text);
}
