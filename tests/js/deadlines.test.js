// Deadlines that act, from the SDK against a real server process: a policy proposed by one
// party's admin and accepted by the other's, the liveness check it schedules answered by a
// subscription told to (answerChecks), what checks() and availability() then say, and
// conflicting plans, a bounding box deciding whether two plans in one area clash.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { HotlineClient, ProblemError } from "../../client/web/sdk/hotline.js";
import { Seen, Site } from "./support/server.js";

const noWebSocket =
  typeof WebSocket === "undefined" && "this Node has no WebSocket: run it with --experimental-websocket";

/** The longest a test may take: every wait inside has its own, shorter bound. */
const BOUNDED = { timeout: 60_000 };

/** @typedef {{url: string, channel: string, tokens: Record<string, string>, logKey: string}} Demo */

/** A site of its own: these tests change the channel's policy. */
const site = noWebSocket ? null : await Site.create();
const skip =
  noWebSocket ||
  (await site?.startDemo().then(
    () => false,
    async (/** @type {Error} */ error) => {
      await site?.close();
      if (process.env.HOTLINE_REQUIRE_SERVER) throw error;
      return `no Hotline server to test against: ${error.message}`;
    },
  ));

/**
 * @param {Demo} demo
 * @param {string} operator
 */
const as = (demo, operator) => new HotlineClient({ baseUrl: demo.url, token: demo.tokens[operator] });

/**
 * A plan of works in `area` from `from` to `to` days from now.
 * @param {number} from
 * @param {number} to
 */
function days(from, to) {
  const day = 86_400_000;
  return { starts_at: new Date(Date.now() + from * day), ends_at: new Date(Date.now() + to * day) };
}

describe("deadlines that act, against a real server", { skip }, () => {
  /** @type {Demo} */
  let demo;
  before(() => {
    demo = /** @type {any} */ (site?.demo);
  });
  after(() => site?.close());

  test("a policy agreed by both admins schedules checks, which a subscription answers for its party", BOUNDED, async () => {
    const wanda = as(demo, "wanda");
    const raj = as(demo, "raj");
    const { in_force } = await wanda.policy(demo.channel);
    const checks = { every_seconds: 3600, answer_within_seconds: 600 };

    const proposal = await wanda.proposePolicy(demo.channel, { ...in_force, checks }, { lapsesIn: 3600 });
    const ownAccept = await wanda.acceptPolicy(demo.channel, proposal.id).catch((e) => e);
    const state = await raj.acceptPolicy(demo.channel, proposal.id);
    const again = await raj.acceptPolicy(demo.channel, proposal.id);

    assert.equal(proposal.party, "water");
    assert.ok(ownAccept instanceof ProblemError && ownAccept.status === 403, String(ownAccept));
    assert.equal(state.policy_id, proposal.id);
    assert.deepEqual(state.in_force.checks, checks);
    assert.equal(state.pending, null);
    assert.equal(again.policy_id, proposal.id, "accepting again changes nothing");
    const withdrawn = await wanda.withdrawPolicy(demo.channel, proposal.id).catch((e) => e);
    assert.ok(withdrawn instanceof ProblemError && withdrawn.code === "proposal-closed", String(withdrawn));

    /** @type {Seen<Record<string, any>>} */
    const events = new Seen();
    const carla = as(demo, "carla").subscribe(demo.channel, {
      answerChecks: true,
      onEvent: (event) => events.push(event),
    });
    try {
      const { head } = await as(demo, "carla").channel(demo.channel);
      await events.until((seen) => seen.some((e) => e.seq === head), "the catch-up");
      // The hour passes: the tick of checks is brought forward in the database.
      const now = new Date(Date.now() - 1000).toISOString().replace("T", " ").replace("Z", "000");
      await /** @type {Site} */ (site).tamper(
        ["UPDATE due_actions SET due_at = ? WHERE channel_id = ? AND kind = 'request_checks'"],
        [now, demo.channel],
      );
      const seen = await events.until(
        (items) => items.some((e) => e.type === "check.answered"),
        "carla's answer to the check",
      );

      const asked = seen.filter((e) => e.type === "check.requested");
      const answered = seen.filter((e) => e.type === "check.answered");
      const roads = asked.find((e) => e.data.party === "roads");
      assert.deepEqual(asked.map((e) => e.data.party).sort(), ["roads", "water"]);
      assert.equal(answered.length, 1, "only roads' check is carla's to answer");
      assert.equal(answered[0].data.check, roads?.data.check);
      assert.deepEqual(answered[0].actor, { party: "roads", operator: "carla" });

      const page = await as(demo, "dev").checks(demo.channel, { party: "roads" });
      const availability = await as(demo, "dev").availability(demo.channel);
      const byParty = Object.fromEntries(availability.parties.map((p) => [p.party, p]));
      assert.equal(page.items[0].id, roads?.data.check);
      assert.equal(page.items[0].answered_by, "carla");
      assert.equal(byParty.roads.answered, 1);
      assert.equal(byParty.water.pending, 1);
      const refused = await as(demo, "carla").answerCheck(demo.channel, asked.find((e) => e.data.party === "water")?.data.check).catch((e) => e);
      assert.ok(refused instanceof ProblemError && refused.status === 403, String(refused));
    } finally {
      carla.close();
      await carla.closed;
    }
  });

  test("two plans in one area conflict unless their bounding boxes do not meet", BOUNDED, async () => {
    const ana = as(demo, "ana");
    const dev = as(demo, "dev");
    const west = [-0.13, 51.5, -0.12, 51.51];
    const east = [-0.02, 51.5, -0.01, 51.51];

    const trench = await ana.send(demo.channel, { subject: "Trench, Canal Street west", area: "Canal Street", bbox: west, activity: days(10, 12) });
    const paving = await dev.send(demo.channel, { subject: "Paving, Canal Street east", area: "canal street", bbox: east, activity: days(11, 13) });
    const signs = await dev.send(demo.channel, { subject: "Signs, Canal Street west", area: "Canal  Street", bbox: [-0.125, 51.505, -0.11, 51.52], activity: days(11, 12) });
    const open = await dev.conflicts(demo.channel, { open: true });

    assert.deepEqual(trench.bbox, west);
    const pairs = open.map((c) => c.notices);
    assert.deepEqual(pairs, [[trench.id, signs.id]], "the boxes east and west do not meet");
    assert.equal(open[0].area, "canal street");
    assert.ok(!pairs.flat().includes(paving.id));

    await ana.cancel(demo.channel, trench.id, "Postponed");
    assert.deepEqual(await dev.conflicts(demo.channel, { open: true }), []);
    assert.equal((await dev.conflicts(demo.channel, { open: false }))[0].id, open[0].id);
  });
});
