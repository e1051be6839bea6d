// Checkpoints against the shared vectors (tests/vectors/checkpoints.json, read and signed
// through client/protocol/checkpoint.py): every text read or refused as Python does, but
// sizes beyond 2**53 - 1, which the browser refuses on purpose.

import assert from "node:assert/strict";
import { test } from "node:test";

import { fromBase64, toBase64 } from "../../client/web/sdk/bytes.js";
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
} from "../../client/web/sdk/checkpoint.js";
import { CheckpointError, NoteError } from "../../client/web/sdk/errors.js";
import { vectors } from "./support/vectors.js";

const { parse, open } = vectors("checkpoints.json");

/**
 * A parsed checkpoint in the terms of the vector file.
 * @param {import("../../client/web/sdk/checkpoint.js").Checkpoint} checkpoint
 */
function asVector({ origin, size, rootHash, extensions }) {
  return { origin, size: String(size), root_hash: toBase64(rootHash), extensions };
}

for (const vector of parse) {
  if (vector.error === null && !vector.beyond_safe_integer) {
    test(`checkpoint text: ${vector.name} is read`, () => {
      const checkpoint = parseCheckpoint(vector.text);
      assert.deepEqual(asVector(checkpoint), vector.checkpoint);
      assert.equal(typeof checkpoint.size, "number");
      assert.equal(formatCheckpoint(checkpoint), vector.text);
    });
  } else {
    const why = vector.error ?? "beyond 2**53 - 1 here";
    test(`checkpoint text: ${vector.name} is refused (${why})`, () => {
      assert.throws(() => parseCheckpoint(vector.text), CheckpointError);
    });
  }
}

for (const vector of open) {
  test(`signed checkpoint: ${vector.name}`, async () => {
    const opening = openCheckpoint(vector.note, vector.keys, { origin: vector.origin });
    if (vector.error === null && !vector.beyond_safe_integer) {
      assert.deepEqual(asVector(await opening), vector.checkpoint);
    } else if (vector.error === "CheckpointError" || vector.beyond_safe_integer) {
      await assert.rejects(opening, CheckpointError);
    } else {
      await assert.rejects(opening, NoteError);
    }
  });
}

test("the vectors hold sizes up to 2**64 - 1 that Python reads and this SDK refuses", () => {
  const beyond = parse.filter((/** @type {any} */ v) => v.beyond_safe_integer);
  assert.deepEqual(
    beyond.map((/** @type {any} */ v) => v.checkpoint.size),
    ["9007199254740992", "18446744073709551615"],
  );
});

test("a size beyond 64 bits is refused as such, however long", () => {
  const root = toBase64(new Uint8Array(32));
  assert.throws(() => parseCheckpoint(`log\n${"9".repeat(10_000)}\n${root}\n`), /64 bits/);
  assert.throws(() => parseCheckpoint(`log\n18446744073709551616\n${root}\n`), /2\*\*64 - 1/);
});

test("the root hash is a fresh copy of the bytes of its line", () => {
  const text = parse[0].text;
  const first = parseCheckpoint(text);
  first.rootHash[0] ^= 1;
  assert.deepEqual(parseCheckpoint(text).rootHash, fromBase64(parse[0].checkpoint.root_hash));
});
