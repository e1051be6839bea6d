// The console's own overlaps on the timeline follow the server's rule: a party's update of
// its own notice is one plan told twice; the other party's reply with works of its own clashes.

import assert from "node:assert/strict";
import { test } from "node:test";

import { lanes } from "../../client/web/console/overlaps.js";

const WINDOW = { starts_at: "2026-12-07T07:00:00.000Z", ends_at: "2026-12-09T17:00:00.000Z" };

/**
 * A notice as the console's book holds it, with only what the timeline reads.
 * @param {string} id
 * @param {string} party
 * @param {string | null} refersTo
 * @returns {any}
 */
function plan(id, party, refersTo = null) {
  return {
    id,
    seq: Number(id),
    sender: { party, operator: party === "water" ? "ana" : "carla" },
    activity: WINDOW,
    area: "Mill Lane",
    refersTo,
    status: "sent",
  };
}

test("a party's update of its own notice does not clash with it", () => {
  const [lane] = lanes([plan("1", "water"), plan("2", "water", "1")]);

  assert.equal(lane.clashes, 0);
});

test("the other party's reply with works of its own clashes with the notice", () => {
  const [lane] = lanes([plan("1", "water"), plan("2", "roads", "1")]);

  assert.equal(lane.clashes, 2);
});
