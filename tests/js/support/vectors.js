/**
 * The protocol vectors of tests/vectors/, which make_vectors.py writes from the Python code:
 * read here by the JavaScript tests, so that both languages answer to the same files.
 */

import { readFileSync } from "node:fs";

import { fromBase64 } from "../../../client/web/sdk/bytes.js";

/**
 * One vector file, parsed.
 * @param {string} name such as "merkle.json"
 * @returns {any}
 */
export function vectors(name) {
  return JSON.parse(readFileSync(new URL(`../../vectors/${name}`, import.meta.url), "utf8"));
}

/**
 * A list of base64 hashes as bytes.
 * @param {string[]} hashes
 * @returns {Uint8Array[]}
 */
export function hashes(hashes) {
  return hashes.map((h) => fromBase64(h));
}
