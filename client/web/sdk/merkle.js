/**
 * Merkle trees for the verifiable log: RFC 6962 hashing, RFC 9162 proof verification.
 *
 * The browser's half of `client/protocol/merkle.py`, with the same semantics, the same
 * checks in the same order and the same messages; `tests/vectors/merkle*.json` holds both
 * sides to it. Hashing goes through WebCrypto, so every function here is asynchronous.
 *
 *     leafHash(d)    = SHA-256(0x00 || d)
 *     nodeHash(l, r) = SHA-256(0x01 || l || r)
 *
 * The root of n leaves is SHA-256 of nothing for none, the leaf's hash for one, and else
 * the node over the first k leaves and the rest, where k is the largest power of two
 * smaller than n. An inclusion proof lists, lowest first, the hashes beside the path from a
 * leaf to the root; a consistency proof the few subtree hashes from which both an older and
 * a newer root can be rebuilt. See the Python module for pictures.
 *
 * Sizes and indices are numbers, exact up to `Number.MAX_SAFE_INTEGER`; the arithmetic
 * below avoids JavaScript's 32-bit bitwise operators for that reason.
 * @module
 */

import { concat, equal, fromHex } from "./bytes.js";
import { sha256 } from "./crypto.js";
import { ProofError } from "./errors.js";

/** Bytes in every hash of the tree (SHA-256). */
export const HASH_SIZE = 32;

/** The root of the tree with no leaves: SHA-256 of the empty string. */
export const EMPTY_ROOT = fromHex(
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
);

const LEAF_PREFIX = new Uint8Array([0]);
const NODE_PREFIX = new Uint8Array([1]);

/**
 * The hash of a leaf holding `data`: SHA-256(0x00 || data).
 * @param {Uint8Array} data
 * @returns {Promise<Uint8Array>}
 */
export async function leafHash(data) {
  return sha256(concat(LEAF_PREFIX, data));
}

/**
 * The hash of an interior node: SHA-256(0x01 || left || right).
 * @param {Uint8Array} left
 * @param {Uint8Array} right
 * @returns {Promise<Uint8Array>}
 */
export async function nodeHash(left, right) {
  return sha256(concat(NODE_PREFIX, left, right));
}

/**
 * The root of a tree with these leaf hashes; `EMPTY_ROOT` when there are none.
 *
 * It folds the leaves into perfect subtrees as they come (one per bit of the count so far),
 * then hangs those from the right edge: n - 1 node hashes in all.
 * @param {Uint8Array[]} leafHashes
 * @returns {Promise<Uint8Array>}
 */
export async function rootHash(leafHashes) {
  /** @type {Uint8Array[]} */
  const subtrees = [];
  for (let size = 0; size < leafHashes.length; size++) {
    let merged = leafHashes[size];
    for (let n = size; n % 2 === 1; n = half(n)) {
      merged = await nodeHash(/** @type {Uint8Array} */ (subtrees.pop()), merged);
    }
    subtrees.push(merged);
  }
  let root = subtrees.pop();
  if (root === undefined) return new Uint8Array(EMPTY_ROOT);
  while (subtrees.length > 0) {
    root = await nodeHash(/** @type {Uint8Array} */ (subtrees.pop()), root);
  }
  return root;
}

/**
 * `n >> 1` for every safe integer (`>>` would cut `n` to 32 bits first).
 * @param {number} n
 * @returns {number}
 */
function half(n) {
  return Math.floor(n / 2);
}

/**
 * @param {number} n
 * @returns {boolean}
 */
function isOdd(n) {
  return n % 2 === 1;
}

/**
 * @param {number} n a positive integer
 * @returns {boolean}
 */
function isPowerOfTwo(n) {
  while (n > 1 && !isOdd(n)) n = half(n);
  return n === 1;
}

/**
 * Refuses anything that is not a 32-byte hash: a short hash could never match, but saying
 * so beats a puzzling "wrong root".
 * @param {string} what
 * @param {unknown[]} hashes
 */
function checkHashes(what, hashes) {
  for (const digest of hashes) {
    if (!(digest instanceof Uint8Array)) throw new ProofError(`${what} is not a Uint8Array`);
    if (digest.length !== HASH_SIZE) {
      throw new ProofError(`${what} has ${digest.length} bytes, not ${HASH_SIZE}`);
    }
  }
}

/**
 * Refuses a size or index that is not a whole number JavaScript counts exactly.
 * @param {Record<string, unknown>} numbers
 */
function checkIntegers(numbers) {
  for (const [name, value] of Object.entries(numbers)) {
    if (!Number.isSafeInteger(value)) {
      throw new ProofError(`the ${name} ${value} is not a whole number`);
    }
  }
}

/**
 * @param {unknown} proof
 * @returns {unknown[]}
 */
function asList(proof) {
  if (!Array.isArray(proof)) throw new ProofError("a proof is an array of hashes");
  return proof;
}

/**
 * Check that `leafHash` is leaf `index` of the tree of `size` leaves with `root`.
 *
 * This is the algorithm of RFC 9162 §2.1.3.2, step by step.
 * @param {Uint8Array} leafHash
 * @param {number} index
 * @param {number} size
 * @param {Uint8Array[]} proof the hashes beside the path, lowest first
 * @param {Uint8Array} root
 * @returns {Promise<void>} resolves when the proof holds
 * @throws {ProofError} (as a rejection) the proof does not hold, a hash is not 32 bytes, or
 *   the index is outside the tree
 */
export async function verifyInclusion(leafHash, index, size, proof, root) {
  checkHashes("the leaf hash", [leafHash]);
  checkHashes("the root", [root]);
  checkHashes("a proof hash", asList(proof));
  checkIntegers({ index, size });
  if (!(0 <= index && index < size)) {
    throw new ProofError(`leaf ${index} is not in a tree of size ${size}`);
  }
  // fn is the node we have reached, sn the last node of its level; they walk up together.
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw new ProofError("the proof is too long");
    if (isOdd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      // A last node with no right sibling is carried up unchanged, so skip levels until it
      // becomes a right child.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError("the proof is too short");
  if (!equal(r, root)) throw new ProofError("the proof leads to another root");
}

/**
 * Check that the tree of `newSize` leaves with `newRoot` extends the one of `oldSize`.
 *
 * For 0 < oldSize < newSize this is the algorithm of RFC 9162 §2.1.4.2, step by step. The
 * RFC defines no proof for the other sizes; there, as there is nothing to prove, the proof
 * must be empty: an empty tree (whose root must be `EMPTY_ROOT`) is extended by every tree,
 * and a tree of the same size only by itself.
 * @param {number} oldSize
 * @param {number} newSize
 * @param {Uint8Array[]} proof
 * @param {Uint8Array} oldRoot
 * @param {Uint8Array} newRoot
 * @returns {Promise<void>} resolves when the proof holds
 * @throws {ProofError} (as a rejection) the proof does not hold, a hash is not 32 bytes, or
 *   the sizes make no sense (negative, or the old tree larger than the new)
 */
export async function verifyConsistency(oldSize, newSize, proof, oldRoot, newRoot) {
  checkHashes("the old root", [oldRoot]);
  checkHashes("the new root", [newRoot]);
  checkHashes("a proof hash", asList(proof));
  checkIntegers({ "old size": oldSize, "new size": newSize });
  if (!(0 <= oldSize && oldSize <= newSize)) {
    throw new ProofError(`a tree of size ${newSize} cannot extend one of size ${oldSize}`);
  }
  if (oldSize === 0 || oldSize === newSize) {
    if (proof.length > 0) {
      throw new ProofError("there is nothing to prove, yet the proof is not empty");
    }
    if (oldSize === 0 && !equal(oldRoot, EMPTY_ROOT)) {
      throw new ProofError("the old root is not the root of the empty tree");
    }
    if (oldSize === newSize && !equal(oldRoot, newRoot)) {
      throw new ProofError("two trees of the same size have different roots");
    }
    return;
  }
  if (proof.length === 0) throw new ProofError("the proof is empty");

  // A perfect old tree is itself a node of the new tree; the proof leaves it out.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  // Climb to the largest perfect subtree ending with the old tree's last leaf: the subtree
  // whose hash comes first in the path.
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) throw new ProofError("the proof is too long");
    if (isOdd(fn) || fn === sn) {
      // c is a left sibling: part of both trees.
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      // c is a right sibling: only in the new tree.
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError("the proof is too short");
  if (!equal(fr, oldRoot)) throw new ProofError("the proof leads to another old root");
  if (!equal(sr, newRoot)) throw new ProofError("the proof leads to another new root");
}
