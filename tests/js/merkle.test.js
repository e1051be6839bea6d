// The SDK's Merkle code against the shared vectors (tests/vectors/merkle*.json, written from
// the Python code): every proof of every tree of 0..64 leaves, and the spoiled ones, with the
// very refusals Python gives. Then a few behaviours of its own.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { fromBase64 } from "../../client/web/sdk/bytes.js";
import { ProofError } from "../../client/web/sdk/errors.js";
import {
  EMPTY_ROOT,
  leafHash,
  nodeHash,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from "../../client/web/sdk/merkle.js";
import { hashes, vectors } from "./support/vectors.js";

const tree = vectors("merkle.json");
const mutated = vectors("merkle-mutated.json");
const leaves = hashes(tree.leaves.map((/** @type {any} */ leaf) => leaf.hash));
const roots = hashes(tree.roots);

/**
 * What a check gave: no error, or the error's class and message, as the vector files say it.
 * @param {() => Promise<void>} check
 */
async function outcome(check) {
  try {
    await check();
  } catch (error) {
    assert.ok(error instanceof ProofError, `not a ProofError: ${error}`);
    return { error: "ProofError", message: error.message };
  }
  return { error: null, message: null };
}

/** @param {Uint8Array} bytes */
function sha256(bytes) {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

test("every leaf hash and every root of 0..64 leaves is the one Python wrote", async () => {
  const data = tree.leaves.map((/** @type {any} */ leaf) => fromBase64(leaf.data));
  for (const [i, bytes] of data.entries()) assert.deepEqual(await leafHash(bytes), leaves[i]);
  for (let size = 0; size <= 64; size++) {
    assert.deepEqual(await rootHash(leaves.slice(0, size)), roots[size], `root of ${size}`);
  }
});

test("every inclusion proof of every tree of 0..64 leaves holds", async () => {
  let checked = 0;
  for (const [size, proofs] of tree.inclusion.entries()) {
    assert.equal(proofs.length, size);
    for (const [index, proof] of proofs.entries()) {
      await verifyInclusion(leaves[index], index, size, hashes(proof), roots[size]);
      checked++;
    }
  }
  assert.equal(checked, (64 * 65) / 2);
});

test("every consistency proof between trees of 0..64 leaves holds", async () => {
  let checked = 0;
  for (const [newSize, proofs] of tree.consistency.entries()) {
    assert.equal(proofs.length, newSize + 1);
    for (const [oldSize, proof] of proofs.entries()) {
      await verifyConsistency(oldSize, newSize, hashes(proof), roots[oldSize], roots[newSize]);
      checked++;
    }
  }
  assert.equal(checked, (65 * 66) / 2);
});

test("every mutated inclusion proof is refused, or held, exactly as Python does", async () => {
  const wrong = [];
  for (const v of mutated.inclusion) {
    const [leaf, root] = [fromBase64(v.leaf_hash), fromBase64(v.root)];
    const got = await outcome(() => verifyInclusion(leaf, v.index, v.size, hashes(v.proof), root));
    if (got.error !== v.error || got.message !== v.message) wrong.push({ name: v.name, got, v });
  }
  assert.deepEqual(wrong, []);
  assert.ok(mutated.inclusion.filter((/** @type {any} */ v) => v.error !== null).length > 400);
});

test("every mutated consistency proof is refused, or held, exactly as Python does", async () => {
  const wrong = [];
  for (const v of mutated.consistency) {
    const got = await outcome(() =>
      verifyConsistency(
        v.old_size,
        v.new_size,
        hashes(v.proof),
        fromBase64(v.old_root),
        fromBase64(v.new_root),
      ),
    );
    if (got.error !== v.error || got.message !== v.message) wrong.push({ name: v.name, got, v });
  }
  assert.deepEqual(wrong, []);
  assert.ok(mutated.consistency.filter((/** @type {any} */ v) => v.error !== null).length > 500);
});

test("leaves and nodes are hashed with the prefixes of RFC 6962", async () => {
  const left = sha256(new Uint8Array([1]));
  const right = sha256(new Uint8Array([2]));
  assert.deepEqual(await leafHash(new Uint8Array([7, 8])), sha256(new Uint8Array([0, 7, 8])));
  assert.deepEqual(await nodeHash(left, right), sha256(new Uint8Array([1, ...left, ...right])));
  assert.deepEqual(EMPTY_ROOT, sha256(new Uint8Array(0)));
  assert.deepEqual(await rootHash([]), EMPTY_ROOT);
});

test("sizes past 2**32 are counted exactly, not cut to 32 bits", async () => {
  // The last leaf of a tree of 2**40 + 1 leaves hangs beside the perfect tree of the first
  // 2**40: its proof, and the proof that the larger tree extends that one, is one hash each.
  const big = 2 ** 40;
  const perfect = sha256(new TextEncoder().encode("the first 2**40 leaves"));
  const last = await leafHash(new TextEncoder().encode("leaf 2**40"));
  const root = await nodeHash(perfect, last);

  await verifyInclusion(last, big, big + 1, [perfect], root);
  await verifyConsistency(big, big + 1, [last], perfect, root);
  await assert.rejects(verifyInclusion(last, big, big + 2, [perfect], root), ProofError);
});

test("a proof not in an array, or an index not a whole number, is a ProofError", async () => {
  const [leaf] = leaves;
  const root = roots[1];
  await assert.rejects(
    verifyInclusion(leaf, 0, 1, /** @type {any} */ ("not a proof"), root),
    ProofError,
  );
  await assert.rejects(verifyInclusion(leaf, 0.5, 1, [], root), ProofError);
  await assert.rejects(verifyConsistency(0, 2 ** 53, [], EMPTY_ROOT, root), ProofError);
  await assert.rejects(
    verifyInclusion(/** @type {any} */ ([...leaf]), 0, 1, [], root),
    /the leaf hash is not a Uint8Array/,
  );
});

test("rootHash hands out a copy of the empty root, which callers cannot spoil", async () => {
  const root = await rootHash([]);
  root[0] ^= 1;
  assert.deepEqual(await rootHash([]), sha256(new Uint8Array(0)));
  assert.deepEqual(EMPTY_ROOT, sha256(new Uint8Array(0)));
});
