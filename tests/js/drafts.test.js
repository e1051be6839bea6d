// A notice's bounding box (RFC 7946 §5), checked before it leaves as the server's domain
// checks it (server/domain/model.py BoundingBox): no network here.

import assert from "node:assert/strict";
import { test } from "node:test";

import { ProblemError, buildDraft } from "../../client/web/sdk/hotline.js";

const MILL_LANE = /** @type {const} */ ([-0.1275, 51.5072, -0.1201, 51.5111]);

/**
 * The fields a draft is refused for, with their messages; [] when it is accepted.
 * @param {Record<string, unknown>} draft
 */
function refusals(draft) {
  try {
    buildDraft(/** @type {any} */ ({ subject: "Water main renewal, Mill Lane", ...draft }));
    return [];
  } catch (error) {
    assert.ok(error instanceof ProblemError, String(error));
    assert.equal(error.status, 422);
    return error.errors.map((/** @type {any} */ e) => `${e.field}: ${e.message}`);
  }
}

test("a bbox with an area is sent as the four numbers, west, south, east, north", () => {
  const box = [...MILL_LANE];

  const body = buildDraft({ subject: "Water main renewal", area: "Mill Lane", bbox: /** @type {any} */ (box) });
  box[0] = 99; // the caller's array changing later changes nothing sent

  assert.deepEqual(body.bbox, [...MILL_LANE]);
});

test("a draft without a bbox sends none, so what it signs is what it signed before", () => {
  assert.equal("bbox" in buildDraft({ subject: "Hydrant flushing", area: "Elm Street" }), false);
  assert.equal("bbox" in buildDraft({ subject: "Hydrant flushing", area: "Elm Street", bbox: null }), false);
});

test("a bbox needs an area: the label names the place", () => {
  assert.deepEqual(refusals({ bbox: [...MILL_LANE] }), [
    "bbox: a bbox needs an area: the label names the place",
  ]);
});

test("a box that crosses the antimeridian (west greater than east) is accepted", () => {
  assert.deepEqual(refusals({ area: "Taveuni", bbox: [179.5, -17.2, -179.8, -16.5] }), []);
});

test("the edges of the world are inside it, and a box may be a point", () => {
  assert.deepEqual(refusals({ area: "Everywhere", bbox: [-180, -90, 180, 90] }), []);
  assert.deepEqual(refusals({ area: "A manhole", bbox: [-0.12, 51.5, -0.12, 51.5] }), []);
});

for (const [name, bbox, message] of /** @type {const} */ ([
  ["three numbers", [0, 0, 1], "must be four numbers: west, south, east, north"],
  ["five numbers", [0, 0, 1, 1, 2], "must be four numbers: west, south, east, north"],
  ["a number as text", [0, "0", 1, 1], "must be four numbers: west, south, east, north"],
  ["an object", { west: 0, south: 0, east: 1, north: 1 }, "must be four numbers: west, south, east, north"],
  ["NaN", [0, Number.NaN, 1, 1], "bbox values must be finite numbers"],
  ["an infinity", [0, 0, Number.POSITIVE_INFINITY, 1], "bbox values must be finite numbers"],
  ["a longitude past 180", [180.5, 0, 1, 1], "bbox longitudes must be within -180 and 180"],
  ["a longitude past -180", [0, 0, -181, 1], "bbox longitudes must be within -180 and 180"],
  ["a latitude past 90", [0, 0, 1, 90.1], "bbox latitudes must be within -90 and 90, south first"],
  ["south above north", [0, 52, 1, 51], "bbox latitudes must be within -90 and 90, south first"],
])) {
  test(`a bbox of ${name} is refused as the server would refuse it`, () => {
    assert.deepEqual(refusals({ area: "Mill Lane", bbox }), [`bbox: ${message}`]);
  });
}
