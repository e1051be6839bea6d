/**
 * What a channel's log commits to: its leaves, its name, and a compact running root.
 *
 * The browser's half of `client/protocol/log.py`.
 *
 * - Every event is one leaf of its channel's Merkle tree, in log order; the leaf's bytes are
 *   the RFC 8785 canonical JSON of the event exactly as the API serves it, so a page
 *   recomputes the hash from the object it received: `leafHash(canonicalJson(event))`.
 * - A checkpoint names its log in its first line, the origin: `<log name>/<channel id>`.
 * - A reader who has seen every leaf from the first keeps the root up to date without the
 *   leaves: the tree of n leaves is one perfect subtree per bit of n, and those few hashes
 *   (at most 53 here) are enough to append the next leaf and to fold the root.
 *   `CompactRange` is that running state, kept in a store between visits.
 * @module
 */

import { fromBase64, toBase64 } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { ProofError } from "./errors.js";
import { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash } from "./merkle.js";

/**
 * The Merkle leaf hash of an event: the hash of its canonical JSON.
 * @param {Record<string, unknown>} event the event as a JSON object, exactly as served
 * @returns {Promise<Uint8Array>}
 * @throws {TypeError | RangeError} (as a rejection) the event is not JSON (see `canonicalJson`)
 */
export async function eventHash(event) {
  return leafHash(canonicalJson(event));
}

/**
 * The origin line of a channel's checkpoints: `<log name>/<channel id>`.
 * @param {string} logName the server's log name, its verifier key's name
 * @param {string} channel the channel's id
 * @returns {string}
 */
export function origin(logName, channel) {
  return `${logName}/${channel}`;
}

/**
 * @param {number} n
 * @returns {number} how many bits of `n` are set (for any safe integer)
 */
function bitCount(n) {
  let count = 0;
  for (; n > 0; n = Math.floor(n / 2)) count += n % 2;
  return count;
}

/** The perfect subtrees of the first `size` leaves of a tree, largest first. */
export class CompactRange {
  #appending = false;

  /**
   * @param {number} [size] how many leaves the range covers
   * @param {Uint8Array[]} [hashes] one hash per set bit of `size`, the largest subtree first
   * @throws {RangeError} the size is not a whole number, or there is not one 32-byte hash per
   *   bit of it
   */
  constructor(size = 0, hashes = []) {
    if (!Number.isSafeInteger(size) || size < 0 || hashes.length !== bitCount(size)) {
      throw new RangeError(`a range of ${size} leaves has one hash per bit of its size`);
    }
    if (hashes.some((h) => !(h instanceof Uint8Array) || h.length !== HASH_SIZE)) {
      throw new RangeError(`every hash has ${HASH_SIZE} bytes`);
    }
    /** How many leaves have been appended. */
    this.size = size;
    /** One hash per set bit of `size`, the largest subtree first. */
    this.hashes = [...hashes];
  }

  /**
   * Add the next leaf hash, merging the subtrees it completes.
   *
   * Await each append before the next: the range changes only when the hashing is done,
   * and two appends at once are refused rather than interleaved.
   * @param {Uint8Array} leaf
   * @returns {Promise<void>}
   * @throws {Error} (as a rejection) another append has not finished
   */
  async append(leaf) {
    if (this.#appending) throw new Error("append one leaf at a time: await the one before");
    this.#appending = true;
    try {
      const hashes = [...this.hashes];
      let merged = leaf;
      // While the smallest subtree is as big as the new one, they pair up.
      for (let size = this.size; size % 2 === 1; size = Math.floor(size / 2)) {
        merged = await nodeHash(/** @type {Uint8Array} */ (hashes.pop()), merged);
      }
      hashes.push(merged);
      this.hashes = hashes;
      this.size += 1;
    } finally {
      this.#appending = false;
    }
  }

  /**
   * Append several leaf hashes in order.
   * @param {Iterable<Uint8Array>} leaves
   * @returns {Promise<void>}
   */
  async extend(leaves) {
    for (const leaf of leaves) await this.append(leaf);
  }

  /**
   * The Merkle root of the leaves so far (the empty tree's root for none).
   * @returns {Promise<Uint8Array>}
   */
  async root() {
    const hashes = [...this.hashes];
    let root = hashes.pop();
    if (root === undefined) return new Uint8Array(EMPTY_ROOT);
    while (hashes.length > 0) root = await nodeHash(/** @type {Uint8Array} */ (hashes.pop()), root);
    return root;
  }

  /** @returns {CompactRange} a copy, to keep as it stands while this one grows */
  clone() {
    return new CompactRange(this.size, this.hashes);
  }

  /**
   * The range of `size` leaves, from the inclusion proof of its last leaf.
   *
   * The proof that leaf `size - 1` is in the tree of `size` leaves lists, lowest first,
   * exactly the perfect subtrees to its left: the range of `size - 1` leaves. A reader who
   * starts in the middle of a log can begin from it; the first signed root it rebuilds
   * afterwards shows whether the proof was true.
   * @param {number} size
   * @param {Uint8Array[]} proof
   * @param {Uint8Array} last the hash of leaf `size - 1`
   * @returns {Promise<CompactRange>}
   * @throws {ProofError} (as a rejection) the proof has not one 32-byte hash per bit of
   *   `size - 1`, or `size` is not a positive whole number
   */
  static async fromInclusionProof(size, proof, last) {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new ProofError("a range built from a proof has at least one leaf");
    }
    let built;
    try {
      built = new CompactRange(size - 1, [...proof].reverse());
    } catch (error) {
      throw new ProofError(`not the proof of a last leaf: ${/** @type {Error} */ (error).message}`);
    }
    await built.append(last);
    return built;
  }

  /**
   * The range as JSON: `{"size": n, "hashes": [base64, …]}`, as the Python client writes it.
   * @returns {{size: number, hashes: string[]}}
   */
  toJSON() {
    return { size: this.size, hashes: this.hashes.map((h) => toBase64(h)) };
  }

  /**
   * Read what `toJSON` wrote.
   * @param {unknown} raw
   * @returns {CompactRange}
   * @throws {TypeError} it is not a compact range
   */
  static fromJSON(raw) {
    const { size, hashes } = /** @type {{size?: unknown, hashes?: unknown}} */ (raw ?? {});
    const strings = Array.isArray(hashes) && hashes.every((h) => typeof h === "string");
    if (typeof size !== "number" || !strings) {
      throw new TypeError("a compact range has a whole-number size and a list of base64 hashes");
    }
    try {
      return new CompactRange(size, hashes.map((h) => fromBase64(h)));
    } catch (error) {
      throw new TypeError(`not a compact range: ${/** @type {Error} */ (error).message}`);
    }
  }
}
