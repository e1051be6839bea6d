// The console's words for spans of time: whole units as people say them, and milliseconds
// for what a program does in less than a second (a check answered by `answerChecks`).

import assert from "node:assert/strict";
import { test } from "node:test";

import { duration } from "../../client/web/console/format.js";

test("a span under a second is said in milliseconds", () => {
  assert.equal(duration(12), "12 ms");
  assert.equal(duration(-999), "999 ms");
});

test("a span that rounds to a second, or more, is said in seconds and larger units", () => {
  assert.equal(duration(999.6), "1 second");
  assert.equal(duration(40_000), "40 seconds");
  assert.equal(duration(5 * 60_000), "5 minutes");
  assert.equal(duration(2 * 86_400_000 + 3 * 3_600_000), "2 days 3 hours");
});

test("no time at all is zero seconds", () => {
  assert.equal(duration(0), "0 seconds");
});
