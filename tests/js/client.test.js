// HotlineClient over REST against a real server process (python -m server demo).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  HotlineClient,
  ProblemError,
  Unreachable,
  verifyConsistency,
  verifyInclusion,
  eventHash,
  openCheckpoint,
} from "../../client/web/sdk/hotline.js";
import { startSite } from "./support/server.js";

const { site, skip } = await startSite();

describe("HotlineClient against a real server", { skip }, () => {
  /** @type {{url: string, channel: string, tokens: Record<string, string>, logKey: string}} */
  let demo;
  /** @param {string} operator */
  const as = (operator) => new HotlineClient({ baseUrl: demo.url, token: demo.tokens[operator] });

  before(() => {
    demo = /** @type {any} */ (site).demo;
  });
  after(() => site?.close());

  test("an operator learns who it is and which channels its party has", async () => {
    const carla = as("carla");

    const me = await carla.me();
    const channels = await carla.channels();

    assert.equal(me.operator.id, "carla");
    assert.equal(me.party.id, "roads");
    assert.deepEqual(
      channels.map((c) => c.id),
      [demo.channel],
    );
    assert.deepEqual(channels[0].parties.map((p) => p.id).sort(), ["roads", "water"]);
  });

  test("a notice is sent, received and acknowledged over REST", async () => {
    const ana = as("ana");
    const carla = as("carla");

    const sent = await ana.send(demo.channel, {
      subject: "Water main renewal, Mill Lane",
      body: "Open trench on the north lane.",
      priority: "important",
      area: "Mill Lane",
      activity: { starts_at: "2030-12-07T07:00:00Z", ends_at: new Date("2030-12-11T17:00:00Z") },
    });
    const waiting = await carla.notices(demo.channel, { awaitingDecision: true, sentBy: "water" });
    const received = await carla.receipt(demo.channel, sent.id);
    const acknowledged = await carla.acknowledge(demo.channel, sent.id);
    const seen = await ana.notice(demo.channel, sent.id);

    assert.match(sent.id, /^[0-9a-f-]{36}$/);
    assert.equal(sent.status, "sent");
    assert.equal(sent.activity.starts_at, "2030-12-07T07:00:00.000Z");
    assert.ok(waiting.items.some((n) => n.id === sent.id));
    assert.equal(received.status, "delivered");
    assert.equal(acknowledged.status, "acknowledged");
    assert.equal(seen.decision.operator, "carla");
    assert.deepEqual(
      seen.history.map((e) => e.type),
      ["notice.sent", "notice.received", "notice.acknowledged"],
    );
  });

  test("sending the same id again returns the original notice", async () => {
    const ana = as("ana");
    const id = crypto.randomUUID();

    const first = await ana.send(demo.channel, { id, subject: "Hydrant flushing, Elm Street" });
    const again = await ana.send(demo.channel, { id, subject: "Hydrant flushing, Elm Street" });

    assert.equal(again.id, id);
    assert.equal(again.seq, first.seq);
  });

  test("a second decision is refused with 409 and the first decision", async () => {
    const sent = await as("ana").send(demo.channel, { subject: "Valve exercise, Oak Road" });
    await as("carla").object(demo.channel, sent.id, "Oak Road is resurfaced that week.");

    const refused = await as("dev").acknowledge(demo.channel, sent.id).catch((e) => e);

    assert.ok(refused instanceof ProblemError, String(refused));
    assert.equal(refused.status, 409);
    assert.equal(refused.code, "already-decided");
    assert.equal(refused.problem.decision.decision, "objected");
    assert.equal(refused.problem.decision.operator, "carla");
  });

  test("a wrong token is refused with 401", async () => {
    const stranger = new HotlineClient({ baseUrl: demo.url, token: "hl_not-a-token" });

    const refused = await stranger.me().catch((e) => e);

    assert.ok(refused instanceof ProblemError, String(refused));
    assert.equal(refused.status, 401);
    assert.equal(typeof refused.code, "string");
  });

  test("a draft that breaks the schema is refused before it leaves, as the server would", async () => {
    let asked = 0;
    const counting = new HotlineClient({
      baseUrl: demo.url,
      token: demo.tokens.ana,
      fetch: (input, init) => {
        asked += 1;
        return fetch(input, init);
      },
    });

    const refused = await counting
      .send(demo.channel, { subject: "Two\nlines", body: "x".repeat(10_001), colour: "red" })
      .catch((e) => e);

    assert.ok(refused instanceof ProblemError, String(refused));
    assert.equal(refused.status, 422);
    assert.equal(refused.code, "invalid-request");
    assert.deepEqual(refused.errors.map((e) => e.field).sort(), ["body", "colour", "subject"]);
    assert.equal(asked, 0);
  });

  test("an unknown notice is a 404 problem with its code", async () => {
    const refused = await as("carla").notice(demo.channel, crypto.randomUUID()).catch((e) => e);

    assert.ok(refused instanceof ProblemError);
    assert.equal(refused.status, 404);
    assert.equal(refused.code, "not-found");
  });

  test("the log's signed checkpoint, proofs and compact range verify with the SDK's own code", async () => {
    const carla = as("carla");
    const signed = await carla.checkpoint(demo.channel);
    const checkpoint = await openCheckpoint(signed.note, demo.logKey, { origin: signed.origin });
    const { events } = await carla.events(demo.channel, { after: 0, limit: 1000 });
    const first = await eventHash(events[0]);

    const inclusion = await carla.inclusionProof(demo.channel, 1, checkpoint.size);
    const consistency = await carla.consistencyProof(demo.channel, 1, checkpoint.size);
    const range = await carla.compactRange(demo.channel, checkpoint.size);

    assert.equal(await carla.logKey(), demo.logKey);
    assert.equal(checkpoint.size, events.length);
    await verifyInclusion(first, 0, checkpoint.size, inclusion, checkpoint.rootHash);
    await verifyConsistency(1, checkpoint.size, consistency, first, checkpoint.rootHash);
    assert.deepEqual(await range.root(), checkpoint.rootHash);
  });

  test("a server that does not answer is Unreachable, after the retries", async () => {
    let asked = 0;
    const down = new HotlineClient({
      baseUrl: "http://127.0.0.1:9",
      token: "hl_any",
      retries: 2,
      fetch: () => {
        asked += 1;
        return Promise.reject(new TypeError("fetch failed"));
      },
    });

    const failed = await down.me().catch((e) => e);

    assert.ok(failed instanceof Unreachable, String(failed));
    assert.match(failed.message, /cannot reach http:\/\/127\.0\.0\.1:9/);
    assert.equal(asked, 3);
  });

  test("a send that fails carries the notice id to send again with", async () => {
    const down = new HotlineClient({
      baseUrl: "http://127.0.0.1:9",
      token: "hl_any",
      retries: 0,
      fetch: () => Promise.reject(new TypeError("fetch failed")),
    });

    const failed = await down.send("water-roads", { subject: "Valve check, Mill Lane" }).catch((e) => e);

    assert.ok(failed instanceof Unreachable, String(failed));
    assert.match(failed.noticeId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test("a 503 is tried again for a read, and a decision is not repeated", async () => {
    const calls = [];
    const flaky = new HotlineClient({
      baseUrl: demo.url,
      token: demo.tokens.carla,
      fetch: (input, init) => {
        calls.push(init?.method);
        if (calls.length === 1 || init?.method === "POST") {
          const problem = { status: 503, code: "unavailable", detail: "restarting" };
          return Promise.resolve(Response.json(problem, { status: 503 }));
        }
        return fetch(input, init);
      },
    });

    const me = await flaky.me();
    const refused = await flaky.acknowledge(demo.channel, crypto.randomUUID()).catch((e) => e);

    assert.equal(me.operator.id, "carla");
    assert.equal(refused.status, 503);
    assert.deepEqual(calls, ["GET", "GET", "POST"]);
  });
});
