// The auditor on its own: a log in memory, signed here, proofs from it (tests/unit/test_audit.py).

import assert from "node:assert/strict";
import { test } from "node:test";

import { ChannelAuditor, CompactRange, LogTampered, SplitView, appendAll, leafHash } from "../../client/web/sdk/hotline.js";
import { CHANNEL, SignedLog, event, generateKey } from "./support/signed-log.js";

const KEY = generateKey("hotline.example");

/** @param {number} count @param {(seq: number) => string} [subject] */
const events = (count, subject) =>
  Array.from({ length: count }, (_, i) => event(i + 1, subject?.(i + 1)));

/**
 * @param {SignedLog} log
 * @param {import("../../client/web/sdk/audit.js").AuditorOptions} [options]
 */
const auditor = (log, options) => ChannelAuditor.create(CHANNEL, [KEY.verifier], log.consistency, options);

/**
 * Hand events over as a socket would, a checkpoint on the seqs `checkpoints` names.
 * @param {ChannelAuditor} audit
 * @param {Array<Record<string, any>>} served
 * @param {Record<number, string>} checkpoints
 */
async function feed(audit, served, checkpoints) {
  const released = [];
  for (const e of served) released.push(...(await audit.add(e, e.seq, checkpoints[e.seq] ?? null)));
  return released;
}

test("events are held until a checkpoint vouches for them", async () => {
  const log = new SignedLog(events(3), KEY);
  const audit = await auditor(log);

  const first = await audit.add(log.events[0], "one");
  const second = await audit.add(log.events[1], "two");
  const third = await audit.add(log.events[2], "three", await log.checkpoint(3));

  assert.deepEqual([first, second, third], [[], [], ["one", "two", "three"]]);
  assert.equal(audit.checkpoint?.size, 3);
  assert.equal(audit.note, await log.checkpoint(3));
});

test("a changed event is named by bisection", async () => {
  const log = new SignedLog(events(8), KEY);
  const served = [...log.events.slice(0, 5), event(6, "Changed"), ...log.events.slice(6)];
  const audit = await auditor(log);

  const failure = await feed(audit, served, { 8: await log.checkpoint(8) }).catch((e) => e);

  assert.ok(failure instanceof LogTampered, String(failure));
  assert.equal(failure.seq, 6);
  assert.equal(failure.channel, CHANNEL);
  assert.ok(log.asked.length <= 3, `a bisection asks O(log n) proofs, not ${log.asked.length}`);
});

test("a missing event is refused at once, named", async () => {
  const log = new SignedLog(events(4), KEY);
  const audit = await auditor(log);
  await audit.add(log.events[0], 1);

  const failure = await audit.add(log.events[2], 3).catch((e) => e);

  assert.ok(failure instanceof LogTampered);
  assert.equal(failure.seq, 2);
  assert.match(failure.message, /expected event 2, got 3/);
});

test("a forked past under its own smaller checkpoint is a split view", async () => {
  const honest = new SignedLog(events(10), KEY);
  const audit = await auditor(honest);
  await audit.checkCheckpoint(await honest.checkpoint(10)); // on subscribing: head 10
  const trusted = await honest.checkpoint(10);
  honest.events = events(10, () => "Forged"); // the server forks its past
  const forged = await honest.checkpoint(8);

  const failure = await feed(audit, honest.events.slice(0, 8), { 8: forged }).catch((e) => e);

  assert.ok(failure instanceof SplitView, String(failure));
  assert.equal(failure.earlier, trusted);
  assert.equal(failure.later, forged);
});

test("a catch-up page behind the trusted head is proved a prefix of it", async () => {
  const log = new SignedLog(events(10), KEY);
  const audit = await auditor(log);
  await audit.checkCheckpoint(await log.checkpoint(10));

  const released = await feed(audit, log.events.slice(0, 6), { 6: await log.checkpoint(6) });

  assert.deepEqual(released, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(log.asked, [[6, 10]]);
  assert.equal(audit.checkpoint?.size, 10, "the trusted checkpoint stays the larger one");
});

test("a checkpoint that advances without events is proved to extend the one before", async () => {
  const log = new SignedLog(events(7), KEY);
  const audit = await auditor(log, { checkpoint: await log.checkpoint(3) });

  await audit.checkCheckpoint(await log.checkpoint(7));

  assert.deepEqual(log.asked, [[3, 7]]);
  assert.equal(audit.checkpoint?.size, 7);
});

test("a log that shrank since the remembered checkpoint is a split view", async () => {
  const log = new SignedLog(events(5), KEY);
  const audit = await auditor(log, { checkpoint: await log.checkpoint(5) });

  await assert.rejects(audit.checkCheckpoint(await log.checkpoint(4)), (error) => {
    assert.ok(error instanceof SplitView);
    assert.match(error.message, /history was rewritten/);
    return true;
  });
});

test("a log rewritten to the same size is a split view", async () => {
  const log = new SignedLog(events(5), KEY);
  const remembered = await log.checkpoint(5);
  const audit = await auditor(log, { checkpoint: remembered });
  log.events[1] = event(2, "Rewritten");

  await assert.rejects(audit.checkCheckpoint(await log.checkpoint(5)), SplitView);
});

test("a resumed auditor checks the replayed events against the remembered root", async () => {
  const log = new SignedLog(events(5), KEY);
  const handled = new CompactRange();
  await handled.extend((await log.leaves()).slice(0, 2));
  const audit = await auditor(log, { handled, checkpoint: await log.checkpoint(5) });
  const replayed = [...log.events.slice(2, 4), event(5, "Changed")];

  const failure = await feed(audit, replayed, {}).catch((e) => e);

  assert.ok(failure instanceof LogTampered, String(failure));
  assert.equal(failure.seq, 5);
});

test("a checkpoint of another channel, or signed by another key, is refused", async () => {
  const log = new SignedLog(events(2), KEY);
  const stranger = generateKey("hotline.example");
  const audit = await auditor(log);
  const other = KEY.signNote(`hotline.example/gas-roads\n2\n${"A".repeat(43)}=\n`);

  await assert.rejects(audit.checkCheckpoint(other), LogTampered);
  await assert.rejects(audit.checkCheckpoint(await log.checkpoint(2, stranger)), (error) => {
    assert.ok(error instanceof LogTampered);
    assert.match(error.message, /not signed by the log's key/);
    return true;
  });
});

test("an event that comes with a checkpoint of another size is refused", async () => {
  const log = new SignedLog(events(3), KEY);
  const audit = await auditor(log);

  const failure = await feed(audit, log.events.slice(0, 2), { 2: await log.checkpoint(3) }).catch((e) => e);

  assert.ok(failure instanceof LogTampered);
  assert.equal(failure.seq, 2);
});

test("an old key opens the remembered checkpoint and nothing newer", async () => {
  const log = new SignedLog(events(3), KEY);
  const rotated = generateKey("hotline.example");
  const audit = await ChannelAuditor.create(CHANNEL, [rotated.verifier], log.consistency, {
    checkpoint: await log.checkpoint(2),
    previousKeys: [KEY.verifier],
  });

  await assert.rejects(audit.checkCheckpoint(await log.checkpoint(3)), /not signed by the log's key/);
  await audit.checkCheckpoint(await log.checkpoint(3, rotated));

  assert.equal(audit.checkpoint?.size, 3);
});

test("a key rotated to a new name still opens the remembered checkpoint", async () => {
  const log = new SignedLog(events(3), KEY);
  const renamed = generateKey("hotline.example.org");
  const audit = await ChannelAuditor.create(CHANNEL, [renamed.verifier], log.consistency, {
    checkpoint: await log.checkpoint(2),
    previousKeys: [KEY.verifier],
  });

  await audit.checkCheckpoint(await log.checkpoint(3, renamed));

  assert.equal(audit.checkpoint?.origin, `hotline.example.org/${CHANNEL}`);
  assert.equal(audit.checkpoint?.size, 3);
});

test("events reaching a checkpoint an old key signed are checked against it", async () => {
  const log = new SignedLog(events(3), KEY);
  const handled = new CompactRange();
  await handled.extend((await log.leaves()).slice(0, 1));
  const rotated = generateKey("hotline.example");
  const audit = await ChannelAuditor.create(CHANNEL, [rotated.verifier], log.consistency, {
    handled,
    checkpoint: await log.checkpoint(3),
    previousKeys: [KEY.verifier],
  });

  const released = await feed(audit, log.events.slice(1), {});

  assert.deepEqual(released, [2, 3]);
});

test("the state kept after handled events lets a new auditor carry on and still catch a change", async () => {
  const log = new SignedLog(events(6), KEY);
  const first = await auditor(log);
  await feed(first, log.events.slice(0, 4), { 2: await log.checkpoint(2), 4: await log.checkpoint(4) });
  await first.markHandled(3); // the consumer got as far as event 3
  const kept = JSON.parse(JSON.stringify(first.state()));
  const honest = await ChannelAuditor.fromState(CHANNEL, [KEY.verifier], log.consistency, kept);
  const fooled = await ChannelAuditor.fromState(CHANNEL, [KEY.verifier], log.consistency, kept);

  const released = await feed(honest, log.events.slice(3), { 6: await log.checkpoint(6) });
  const failure = await feed(fooled, [event(4, "Changed"), ...log.events.slice(4)], {
    6: await log.checkpoint(6),
  }).catch((e) => e);

  assert.equal(kept.range.size, 3);
  assert.equal(kept.checkpoint, await log.checkpoint(4));
  assert.deepEqual(released, [4, 5, 6]);
  assert.ok(failure instanceof LogTampered, String(failure));
  assert.equal(failure.seq, 4);
});

test("a range grown a level at a time is the range grown a leaf at a time, from every size", async () => {
  const leaves = await Promise.all(Array.from({ length: 80 }, (_, i) => leafHash(new Uint8Array([i]))));
  const differ = [];
  for (let start = 0; start <= 40; start += 1) {
    const range = new CompactRange();
    await range.extend(leaves.slice(0, start));
    const before = JSON.stringify(range.toJSON());
    for (const count of [0, 1, 2, 3, 7, 8, 9, 40]) {
      const expected = range.clone();
      await expected.extend(leaves.slice(start, start + count));
      const grown = await appendAll(range, leaves.slice(start, start + count));
      if (JSON.stringify(grown.toJSON()) !== JSON.stringify(expected.toJSON())) differ.push([start, count]);
    }
    assert.equal(JSON.stringify(range.toJSON()), before, "the range given is left as it is");
  }

  assert.deepEqual(differ, []);
});
