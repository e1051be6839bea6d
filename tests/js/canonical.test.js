// RFC 8785 canonical JSON against the shared vectors (tests/vectors/canonical.json, written
// by Python's rfc8785 and checked there against the RFC's own examples), then what the SDK
// refuses that JSON.stringify would quietly let through.

import assert from "node:assert/strict";
import { test } from "node:test";

import { canonicalJson, canonicalText } from "../../client/web/sdk/canonical.js";
import { vectors } from "./support/vectors.js";

const { vectors: cases } = vectors("canonical.json");

/** @param {{json?: string, number?: string}} vector */
function input(vector) {
  return vector.json !== undefined ? JSON.parse(vector.json) : Number(vector.number);
}

for (const vector of cases) {
  if (vector.canonical !== null) {
    test(`canonical JSON: ${vector.name}`, () => {
      assert.equal(canonicalText(input(vector)), vector.canonical);
      assert.deepEqual(canonicalJson(input(vector)), new TextEncoder().encode(vector.canonical));
    });
  } else {
    test(`canonical JSON refuses ${vector.name} (Python: ${vector.error})`, () => {
      assert.throws(() => canonicalJson(input(vector)), RangeError);
    });
  }
}

test("the vectors cover the RFC's numbers, its examples and refusals", () => {
  assert.ok(cases.filter((/** @type {any} */ v) => v.name.includes("RFC 8785")).length >= 26);
  assert.ok(cases.filter((/** @type {any} */ v) => v.canonical === null).length >= 7);
});

test("the order keys came in does not change the bytes", () => {
  const event = { seq: 1, channel: "water-roads", actor: { party: "water", operator: "ana" } };
  const reordered = { actor: { operator: "ana", party: "water" }, channel: "water-roads", seq: 1 };
  assert.deepEqual(canonicalJson(event), canonicalJson(reordered));
  assert.equal(
    canonicalText(event),
    '{"actor":{"operator":"ana","party":"water"},"channel":"water-roads","seq":1}',
  );
});

test("values JSON cannot hold are refused, not skipped as JSON.stringify skips them", () => {
  for (const value of [undefined, () => 1, Symbol("s"), 1n]) {
    assert.throws(() => canonicalText(value), TypeError);
    assert.throws(() => canonicalText({ key: value }), TypeError);
    assert.throws(() => canonicalText([value]), TypeError);
  }
  assert.throws(() => canonicalText(new Date(0)), TypeError);
  assert.throws(() => canonicalText(new Map()), TypeError);
  assert.throws(() => canonicalText([1, , 3]), TypeError); // eslint-disable-line no-sparse-arrays
});

test("a value that holds itself is refused; one shared twice is written twice", () => {
  /** @type {any} */
  const looped = { name: "loop" };
  looped.self = looped;
  assert.throws(() => canonicalText(looped), TypeError);

  const shared = { a: 1 };
  assert.equal(canonicalText([shared, { shared }]), '[{"a":1},{"shared":{"a":1}}]');
});

test("an object without a prototype is an object like any other", () => {
  const bare = Object.assign(Object.create(null), { b: 2, a: 1 });
  assert.equal(canonicalText(bare), '{"a":1,"b":2}');
});

test("a lone surrogate is refused in a key as in a value", () => {
  assert.throws(() => canonicalText({ "\ud800": 1 }), RangeError);
  assert.throws(() => canonicalText("\udc00x"), RangeError);
  assert.equal(canonicalText("\ud83d\ude00"), '"\ud83d\ude00"');
});
