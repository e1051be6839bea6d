// Event leaves, compact ranges and origins against the shared vectors (tests/vectors/log.json
// and merkle.json, written by client/protocol/log.py), then the range's own behaviour.

import assert from "node:assert/strict";
import { test } from "node:test";

import { fromBase64, toBase64 } from "../../client/web/sdk/bytes.js";
import { canonicalText } from "../../client/web/sdk/canonical.js";
import { ProofError } from "../../client/web/sdk/errors.js";
import { CompactRange, eventHash, origin } from "../../client/web/sdk/log.js";
import { rootHash } from "../../client/web/sdk/merkle.js";
import { hashes, vectors } from "./support/vectors.js";

const log = vectors("log.json");
const tree = vectors("merkle.json");
const leaves = hashes(tree.leaves.map((/** @type {any} */ leaf) => leaf.hash));
const roots = hashes(tree.roots);

for (const vector of log.events) {
  test(`event leaf: ${vector.name}`, async () => {
    assert.equal(canonicalText(vector.event), vector.canonical);
    assert.equal(toBase64(await eventHash(vector.event)), vector.leaf_hash);
  });
}

test("the events' root is the root of their leaves in log order", async () => {
  const events = log.events.map((/** @type {any} */ v) => v.event);
  const eventLeaves = await Promise.all(events.map(eventHash));
  assert.deepEqual(await rootHash(eventLeaves), fromBase64(log.events_root));
});

test("appending the leaves one by one gives Python's compact range at every size", async () => {
  const range = new CompactRange();
  for (let size = 0; size <= 64; size++) {
    assert.deepEqual(range.toJSON(), log.compact_ranges[size], `size ${size}`);
    assert.deepEqual(await range.root(), roots[size], `root of ${size}`);
    if (size < 64) await range.append(leaves[size]);
  }
});

test("each compact range Python wrote reads back and folds to its root", async () => {
  for (const [size, raw] of log.compact_ranges.entries()) {
    const range = CompactRange.fromJSON(raw);
    assert.equal(range.size, size);
    assert.deepEqual(await range.root(), roots[size]);
  }
});

test("the inclusion proof of every last leaf is the range before it", async () => {
  for (let size = 1; size <= 64; size++) {
    const proof = hashes(tree.inclusion[size][size - 1]);
    const range = await CompactRange.fromInclusionProof(size, proof, leaves[size - 1]);
    assert.deepEqual(range.toJSON(), log.compact_ranges[size], `size ${size}`);
  }
});

test("an origin is the log's name and the channel's id", () => {
  for (const vector of log.origins) {
    assert.equal(origin(vector.log_name, vector.channel), vector.origin);
  }
});

test("a proof of the wrong length for its last leaf is a ProofError", async () => {
  const proof = hashes(tree.inclusion[8][7]); // three hashes, where six leaves have two bits
  await assert.rejects(CompactRange.fromInclusionProof(7, proof, leaves[6]), ProofError);
  await assert.rejects(CompactRange.fromInclusionProof(0, [], leaves[0]), ProofError);
});

test("a stored range whose hashes do not fit its size is refused", () => {
  assert.throws(() => CompactRange.fromJSON({ size: 3, hashes: [] }), TypeError);
  assert.throws(() => CompactRange.fromJSON({ size: "1", hashes: [] }), TypeError);
  assert.throws(() => CompactRange.fromJSON(null), TypeError);
  assert.throws(() => CompactRange.fromJSON({ size: 1, hashes: ["not base64"] }), TypeError);
  assert.throws(() => new CompactRange(1, [new Uint8Array(31)]), RangeError);
  assert.throws(() => new CompactRange(-1, []), RangeError);
});

test("two appends at once are refused, not interleaved", async () => {
  const range = new CompactRange();
  await range.append(leaves[0]);
  const first = range.append(leaves[1]);
  await assert.rejects(range.append(leaves[2]), /one leaf at a time/);
  await first;
  assert.equal(range.size, 2);
  assert.deepEqual(await range.root(), roots[2]);
});

test("a clone stays as it was while the original grows", async () => {
  const range = CompactRange.fromJSON(log.compact_ranges[5]);
  const kept = range.clone();
  await range.extend(leaves.slice(5, 9));
  assert.equal(kept.size, 5);
  assert.deepEqual(await kept.root(), roots[5]);
  assert.deepEqual(await range.root(), roots[9]);
});
