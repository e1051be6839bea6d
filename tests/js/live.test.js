// The live subscription against a real server process: events verified, once, in order,
// across a restart; receipts; the store; a tampered database; bad input from the server.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  ConnectionClosed,
  HotlineClient,
  LogTampered,
  MemoryStore,
  SplitView,
  resumeKey,
} from "../../client/web/sdk/hotline.js";
import { Seen, Site, startSite } from "./support/server.js";

const noWebSocket =
  typeof WebSocket === "undefined" && "this Node has no WebSocket: run it with --experimental-websocket";

/**
 * @typedef {{url: string, channel: string, tokens: Record<string, string>, logKey: string}} Demo
 * @typedef {Record<string, any>} Event
 */

/**
 * @param {Demo} demo
 * @param {string} operator
 * @param {Partial<import("../../client/web/sdk/client.js").ClientOptions>} [options]
 */
const as = (demo, operator, options = {}) =>
  new HotlineClient({ baseUrl: demo.url, token: demo.tokens[operator], ...options });

/**
 * Subscribe, keeping what happens: events, states, warnings and the error it stopped with.
 * @param {HotlineClient} client
 * @param {string} channel
 * @param {import("../../client/web/sdk/live.js").SubscribeOptions} [options]
 */
function watch(client, channel, options = {}) {
  /** @type {Seen<Event>} */
  const events = new Seen();
  /** @type {Seen<{state: string} & Record<string, any>>} */
  const states = new Seen();
  /** @type {Seen<Error>} */
  const errors = new Seen();
  /** @type {string[]} */
  const warnings = [];
  const sub = client.subscribe(channel, {
    onEvent: (event) => events.push(event),
    onStatus: (state, info) => states.push({ state, ...info }),
    onError: (error) => errors.push(error),
    logger: { warn: (message) => warnings.push(message) },
    ...options,
  });
  /** @param {number} seq */
  const upTo = (seq) => events.until((seen) => seen.some((e) => e.seq >= seq), `event ${seq}`);
  return { sub, events, states, errors, warnings, upTo };
}

/** The longest a test may take: every wait inside has its own, shorter bound. */
const BOUNDED = { timeout: 60_000 };

/**
 * Close a subscription and wait until it has stopped.
 * @param {{sub: import("../../client/web/sdk/live.js").Subscription}} watched
 */
async function stop(watched) {
  watched.sub.close();
  await watched.sub.closed;
}

/** @param {Event[]} events */
const seqs = (events) => events.map((e) => e.seq);
/** @param {number} from @param {number} to */
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * Send `count` notices as ana; returns their ids.
 * @param {Demo} demo
 * @param {number} count
 * @param {string} [subject]
 */
async function send(demo, count, subject = "Water main, Elm Street") {
  const ana = as(demo, "ana");
  const ids = [];
  for (let n = 0; n < count; n += 1) ids.push((await ana.send(demo.channel, { subject: `${subject} #${n}` })).id);
  return ids;
}

/** @param {Demo} demo */
async function head(demo) {
  return (await as(demo, "carla").channel(demo.channel)).head;
}

/**
 * A WebSocket whose incoming messages pass through `rewrite` first (to play a server that
 * misbehaves): it gets each message's text and the connection's number, and returns the
 * texts to hand on instead.
 * @param {(text: string, connection: number) => string[]} rewrite
 */
function rewriting(rewrite) {
  let connections = 0;
  return class RewritingWebSocket extends WebSocket {
    /** @param {string} url */
    constructor(url) {
      super(url);
      this.connection = ++connections;
    }

    /** @type {WebSocket["addEventListener"]} */
    addEventListener(type, listener, options) {
      if (type !== "message") return super.addEventListener(type, listener, options);
      const handle = /** @type {(event: MessageEvent) => void} */ (listener);
      super.addEventListener(
        "message",
        (event) => {
          for (const data of rewrite(event.data, this.connection)) handle.call(this, new MessageEvent("message", { data }));
        },
        options,
      );
    }
  };
}

const { site, skip } = noWebSocket ? { site: null, skip: noWebSocket } : await startSite();

describe("a live subscription to a real server", { skip }, () => {
  describe("on one demo server", () => {
    /** @type {Demo} */
    let demo;
    before(() => {
      demo = /** @type {any} */ (site?.demo);
    });
    after(() => site?.close());

    test("a notice sent over REST reaches the other party live, verified, and its receipt is confirmed", BOUNDED, async () => {
      const start = await head(demo);
      const carla = watch(as(demo, "carla"), demo.channel, { after: start });
      await carla.states.until((s) => s.some((x) => x.state === "live"), "live");

      const [id] = await send(demo, 1, "Hydrant flushing, Elm Street");
      const seen = await carla.events.until(
        (events) => events.some((e) => e.type === "notice.received" && e.data.notice === id),
        "the receipt carla's client confirmed",
      );
      const notice = await as(demo, "ana").notice(demo.channel, id);
      await stop(carla);

      const sent = seen.find((e) => e.type === "notice.sent");
      const received = seen.find((e) => e.type === "notice.received");
      assert.equal(sent?.data.notice, id);
      assert.deepEqual(received?.actor, { party: "roads", operator: "carla" });
      assert.equal(notice.status, "delivered");
      assert.deepEqual(seqs(seen), range(start + 1, start + seen.length));
      assert.ok((carla.sub.checkpoint?.size ?? 0) >= (received?.seq ?? Infinity), "delivered only once verified");
      assert.deepEqual(carla.sub.presence.roads, ["carla"]);
      assert.deepEqual(
        carla.states.items.map((s) => s.state),
        ["connecting", "live", "stopped"],
      );
    });

    test("the sender's own subscription confirms no receipt for its party's notices", BOUNDED, async () => {
      const ana = watch(as(demo, "ana"), demo.channel, { after: await head(demo) });
      const roads = watch(as(demo, "dev"), demo.channel, { after: await head(demo), confirmReceipts: false });

      const [id] = await send(demo, 1, "Valve exercise, Oak Road");
      await ana.events.until((e) => e.some((x) => x.data.notice === id), "ana's own notice");
      const [later] = await send(demo, 1, "Valve exercise, Oak Road, second");
      await roads.upTo((await as(demo, "dev").notice(demo.channel, later)).seq);
      await stop(ana);
      await stop(roads);

      assert.equal((await as(demo, "ana").notice(demo.channel, id)).status, "sent");
      assert.deepEqual(
        roads.events.items.map((e) => e.type),
        ["notice.sent", "notice.sent"],
      );
    });

    test("the whole log arrives from the start, once each, in order, and matches the REST log", BOUNDED, async () => {
      const end = await head(demo);
      const carla = watch(as(demo, "carla"), demo.channel, { confirmReceipts: false });

      await carla.upTo(end);
      await stop(carla);
      const { events } = await as(demo, "carla").events(demo.channel, { after: 0, limit: end });

      assert.deepEqual(carla.events.items.slice(0, end), events);
      assert.deepEqual(seqs(carla.events.items), range(1, carla.events.items.length));
    });

    test("a wrong token closes the socket with 4401 and stops the subscription for good", BOUNDED, async () => {
      const stranger = watch(new HotlineClient({ baseUrl: demo.url, token: "hl_not-a-token" }), demo.channel);

      const failure = await stranger.sub.closed.catch((e) => e);

      assert.ok(failure instanceof ConnectionClosed, String(failure));
      assert.equal(failure.code, 4401);
      assert.equal(stranger.errors.items[0], failure);
      assert.deepEqual(
        stranger.states.items.map((s) => s.state),
        ["connecting", "stopped"],
      );
      assert.equal(stranger.events.items.length, 0);
    });

    test("an aborted signal stops the subscription: nothing more reaches onEvent", BOUNDED, async () => {
      const controller = new AbortController();
      const stopped = watch(as(demo, "dev"), demo.channel, {
        after: await head(demo),
        signal: controller.signal,
        confirmReceipts: false,
      });
      await stopped.states.until((s) => s.some((x) => x.state === "live"), "live");
      const witness = watch(as(demo, "carla"), demo.channel, { after: await head(demo), confirmReceipts: false });

      controller.abort();
      await stopped.sub.closed;
      const [id] = await send(demo, 1, "Sent after the abort");
      await witness.events.until((e) => e.some((x) => x.data.notice === id), "the witness's copy");
      await stop(witness);

      assert.equal(stopped.events.items.length, 0);
      assert.equal(stopped.states.items.at(-1)?.state, "stopped");
    });

    test("the store keeps the last verified checkpoint, and a later subscription proves the log extends it", BOUNDED, async () => {
      const store = new MemoryStore();
      const end = await head(demo);
      const first = watch(as(demo, "carla"), demo.channel, { store, confirmReceipts: false });
      await first.upTo(end);
      await stop(first);
      const kept = JSON.parse(/** @type {string} */ (store.getItem(resumeKey(demo.url, demo.channel))));
      const [, last] = await send(demo, 2, "Sent while carla was away");
      const asked = [];
      const recording = as(demo, "carla", {
        fetch: (input, init) => {
          asked.push(new URL(String(input)).pathname + new URL(String(input)).search);
          return fetch(input, init);
        },
      });

      const second = watch(recording, demo.channel, { store, resume: true, confirmReceipts: false });
      const lastSeq = (await as(demo, "ana").notice(demo.channel, last)).seq;
      await second.upTo(lastSeq);
      await stop(second);
      const now = JSON.parse(/** @type {string} */ (store.getItem(resumeKey(demo.url, demo.channel))));

      assert.equal(kept.after, first.sub.lastSeq);
      assert.equal(kept.audit.log_key, demo.logKey);
      assert.equal(kept.audit.range.size, kept.after);
      assert.equal(Number(kept.audit.checkpoint.split("\n")[1]), kept.after);
      assert.deepEqual(seqs(second.events.items), range(kept.after + 1, lastSeq));
      assert.ok(
        asked.includes(`/api/v1/channels/${demo.channel}/proofs/consistency?old_size=${kept.after}&size=${lastSeq}`),
        asked.join(", "),
      );
      assert.ok(!asked.some((path) => path.includes("/log/key") || path.includes("/inclusion")), asked.join(", "));
      assert.equal(now.after, lastSeq);
      assert.equal(second.sub.checkpoint?.size, lastSeq);
    });

    test("messages of unknown types, and text that is not JSON, are passed over", BOUNDED, async () => {
      // After the welcome: a first message the client cannot read means a garbled session,
      // which it drops and starts again (as the Python client does).
      const noisy = rewriting((text) =>
        JSON.parse(text).type === "welcome" ? [text] : ['{"type": "gossip", "about": "the weather"}', "not json {", text],
      );
      const end = await head(demo);
      const carla = watch(as(demo, "carla", { WebSocket: noisy }), demo.channel, { confirmReceipts: false });

      await carla.upTo(end);
      await stop(carla);

      assert.deepEqual(seqs(carla.events.items), range(1, end));
      assert.ok(carla.warnings.some((w) => w.includes('unknown type "gossip"')), carla.warnings.join("\n"));
      assert.ok(carla.warnings.some((w) => w.includes("not JSON")));
    });

    test("a malformed event is dropped whole, and the gap it leaves stops the subscription as tampering", BOUNDED, async () => {
      const end = await head(demo);
      const broken = end - 1;
      const garbling = rewriting((text) => {
        const message = JSON.parse(text);
        if (message.type === "event" && message.event.seq === broken) delete message.event.at;
        return [JSON.stringify(message)];
      });
      const carla = watch(as(demo, "carla", { WebSocket: garbling }), demo.channel, { confirmReceipts: false });

      const failure = await carla.sub.closed.catch((e) => e);

      assert.ok(failure instanceof LogTampered, String(failure));
      assert.equal(failure.seq, broken);
      assert.ok(carla.events.items.every((e) => e.seq < broken), "nothing at or after the gap is delivered");
      assert.ok(carla.warnings.some((w) => w.includes("event.at")), carla.warnings.join("\n"));
    });

    test("an oversized message ends the connection unread, and the subscription resumes with no gap or repeat", BOUNDED, async () => {
      const end = await head(demo);
      const swollen = rewriting((text, connection) => {
        const message = JSON.parse(text);
        if (connection === 1 && message.type === "event" && message.event.seq === 2) {
          message.event.data.padding = "x".repeat(1_500_000);
        }
        return [JSON.stringify(message)];
      });
      const carla = watch(as(demo, "carla", { WebSocket: swollen }), demo.channel, { confirmReceipts: false });

      await carla.upTo(end);
      await stop(carla);

      assert.deepEqual(seqs(carla.events.items), range(1, end));
      assert.ok(carla.events.items.every((e) => e.data.padding === undefined));
      const dropped = carla.states.items.find((s) => s.state === "reconnecting");
      assert.equal(dropped?.code, 1009);
    });

    test("with verification off, events are delivered as served and nothing is asked to verify them", BOUNDED, async () => {
      const asked = [];
      const end = await head(demo);
      const client = as(demo, "carla", {
        fetch: (input, init) => {
          asked.push(String(input));
          return fetch(input, init);
        },
      });
      const carla = watch(client, demo.channel, { verify: false, confirmReceipts: false, after: end - 2 });

      await carla.upTo(end);
      await stop(carla);

      assert.deepEqual(seqs(carla.events.items), [end - 1, end]);
      assert.deepEqual(asked, []);
      assert.equal(carla.sub.checkpoint, null);
    });
  });

  test("after the server is killed and restarted on its database, the subscription resumes: no gap, no repeat", BOUNDED, async (t) => {
    const own = await Site.create();
    t.after(() => own.close());
    const demo = await own.startDemo();
    const carla = watch(as(demo, "carla"), demo.channel);
    const before = await send(demo, 3, "Before the restart");
    await carla.events.until(
      (e) => before.every((id) => e.some((x) => x.type === "notice.received" && x.data.notice === id)),
      "the first three notices received",
    );

    await own.kill();
    await carla.states.until((s) => s.some((x) => x.state === "reconnecting"), "the socket dropping");
    await own.restart();
    const afterwards = await send(demo, 3, "After the restart");
    await carla.events.until(
      (e) => afterwards.every((id) => e.some((x) => x.type === "notice.received" && x.data.notice === id)),
      "the last three notices received",
    );
    const end = await head(demo);
    await carla.upTo(end);
    await stop(carla);
    const { events } = await as(demo, "carla").events(demo.channel, { after: 0, limit: 1000 });

    assert.deepEqual(carla.events.items, events, "every event once, in order, as the log holds it");
    assert.equal(carla.sub.checkpoint?.size, end);
    const live = carla.states.items.filter((s) => s.state === "live");
    assert.equal(live.length, 2, "live again after the restart");
  });

  test("an event changed in the database behind the server's back stops a subscription with LogTampered", BOUNDED, async (t) => {
    const own = await Site.create();
    t.after(() => own.close());
    const demo = await own.startDemo();
    await send(demo, 6);
    await own.tamper(
      ["UPDATE events SET data = replace(data, 'Elm Street #2', 'Oak Street #2') WHERE channel_id = ? AND seq = 3"],
      [demo.channel],
    );

    const carla = watch(as(demo, "carla"), demo.channel);
    const failure = await carla.sub.closed.catch((e) => e);

    assert.ok(failure instanceof LogTampered, String(failure));
    assert.equal(failure.seq, 3);
    assert.deepEqual(carla.events.items, [], "nothing of the batch is delivered");
    assert.equal(carla.states.items.at(-1)?.state, "stopped");
  });

  test("a history rewritten with its tree while the server was down is a split view to whoever kept a checkpoint", BOUNDED, async (t) => {
    const own = await Site.create();
    t.after(() => own.close());
    const demo = await own.startDemo();
    await send(demo, 4);
    const store = new MemoryStore();
    const end = await head(demo);
    const carla = watch(as(demo, "carla"), demo.channel, { store, confirmReceipts: false });
    await carla.upTo(end);

    await own.kill();
    await own.tamper(
      [
        "UPDATE events SET data = replace(data, 'Elm Street #1', 'Oak Street #1') WHERE channel_id = ? AND seq = 2",
        "DELETE FROM log_nodes WHERE channel_id = ?",
      ],
      [demo.channel],
    );
    await own.restart();
    const live = await carla.sub.closed.catch((e) => e);
    const later = watch(as(demo, "carla"), demo.channel, { store, confirmReceipts: false });
    const stored = await later.sub.closed.catch((e) => e);
    const stranger = watch(as(demo, "carla"), demo.channel, { confirmReceipts: false });
    await stranger.upTo(end);
    await stop(stranger);

    assert.ok(live instanceof SplitView, String(live));
    assert.equal(Number(live.earlier.split("\n")[1]), end);
    assert.equal(carla.events.items.length, end, "nothing after the rewrite is delivered");
    assert.ok(stored instanceof SplitView, String(stored));
    assert.equal(later.events.items.length, 0);
    // A subscriber that never saw the old log has nothing to hold the new one against.
    assert.equal(stranger.events.items[1].data.subject, "Water main, Oak Street #1");
  });
});
