// A subscription that answers liveness checks for its own party (`answerChecks`), against a
// server played in memory: what it sends, when, and what it leaves alone; receipts and answers
// the server is too busy to take (429), sent again. And the socket's `result` of an answer,
// read as messages.js reads it.

import assert from "node:assert/strict";
import { test } from "node:test";

import { EVENT_TYPES, HotlineClient, parseServerMessage } from "../../client/web/sdk/hotline.js";
import { Seen } from "./support/server.js";

const CHANNEL = "water-roads";
const OURS = "7d1f3a52-9f0e-4c55-8f7e-2b8c1d0e6a44";
const THEIRS = "0b6f4f0e-3c1a-4d8e-9a57-3f0d2c4b9e10";
const ANSWERED = "c3a3a0d6-5d1e-4b7e-8a9a-6c1f2e3d4b5a";
const MISSED = "e1d2c3b4-a596-4877-8899-aabbccddeeff";
const NOTICE = "5a7c9e1b-2d4f-4a6b-8c0e-1f3a5b7d9c2e";
const WATER = { party: "water", operator: "ana" };

/**
 * @param {number} seq
 * @param {string} type
 * @param {Record<string, unknown>} data
 * @param {{party: string, operator: string} | null} [actor]
 */
function event(seq, type, data, actor = null) {
  return { channel: CHANNEL, seq, type, at: "2026-11-21T09:00:00.000Z", actor, data };
}

/** @param {string} check @param {string} party @param {number} seq */
const requested = (check, party, seq) =>
  event(seq, "check.requested", {
    check,
    party,
    due_at: "2026-11-21T09:00:00.000Z",
    answer_by: "2026-11-21T09:05:00.000Z",
  });

/** @param {string} notice @param {number} seq */
const sentByWater = (notice, seq) =>
  event(seq, "notice.sent", { notice, category: "works", severity: "info" }, WATER);

/** @param {any} m */
const tooBusy = (m) => ({
  ref: m.ref,
  type: "error",
  status: 429,
  code: "too-many-commands",
  detail: "this socket has too many commands waiting",
});

/**
 * A server in memory behind a WebSocket class: it welcomes carla of roads, serves `log` on
 * subscribe, and keeps every message the client sends in `sent`. `answer` says what it
 * replies to an `answer_check` or a `receipt` (nothing yet, if it returns null); `push` sends
 * one more event live, `reply` any message.
 * @param {Array<Record<string, any>>} log
 * @param {(message: any) => Record<string, any> | null} answer
 */
function memoryServer(log, answer) {
  /** @type {Seen<any>} */
  const sent = new Seen();
  /** @type {MemorySocket | null} */
  let current = null;
  class MemorySocket extends EventTarget {
    /** @param {string} url */
    constructor(url) {
      super();
      this.url = url;
      this.readyState = 0;
      this.binaryType = "blob";
      current = this;
      queueMicrotask(() => {
        this.readyState = 1;
        this.dispatchEvent(new Event("open"));
      });
    }

    /** @param {Record<string, any>} message */
    reply(message) {
      queueMicrotask(() => this.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(message) })));
    }

    /** @param {string} text */
    send(text) {
      const message = JSON.parse(text);
      sent.push(message);
      if (message.type === "hello") {
        this.reply({
          type: "welcome",
          operator: { id: "carla", name: "Carla Rossi" },
          role: "operator",
          party: { id: "roads", name: "City Roads Department" },
        });
      } else if (message.type === "subscribe") {
        this.reply({ type: "subscribed", channel: CHANNEL, head: log.length, checkpoint: null });
        for (const e of log.slice(message.after)) this.reply({ type: "event", event: e, checkpoint: null });
      } else if (message.type === "answer_check" || message.type === "receipt") {
        const reply = answer(message);
        if (reply !== null) this.reply({ ref: message.ref, ...reply });
      }
    }

    close() {
      if (this.readyState === 3) return;
      this.readyState = 3;
      // Node 20 has no CloseEvent: an Event with its two fields does.
      queueMicrotask(() => this.dispatchEvent(Object.assign(new Event("close"), { code: 1000, reason: "" })));
    }
  }
  /** @param {Record<string, any>} e */
  const push = (e) => current?.reply({ type: "event", event: e, checkpoint: null });
  /** @param {Record<string, any>} message */
  const reply = (message) => current?.reply(message);
  return { WebSocket: /** @type {any} */ (MemorySocket), sent, push, reply };
}

/**
 * Subscribe as carla of roads over `server`, unverified (the memory server signs nothing).
 * @param {ReturnType<typeof memoryServer>} server
 * @param {Partial<import("../../client/web/sdk/live.js").SubscribeOptions>} options
 */
function subscribe(server, options) {
  const client = new HotlineClient({
    baseUrl: "http://hotline.test",
    token: "hl_carla",
    WebSocket: server.WebSocket,
    fetch: () => Promise.reject(new Error("no REST here")),
  });
  /** @type {Seen<number>} */
  const seen = new Seen();
  const sub = client.subscribe(CHANNEL, {
    verify: false,
    confirmReceipts: false,
    onEvent: (e) => seen.push(e.seq),
    ...options,
  });
  /** @param {number} seq */
  const handled = (seq) => seen.until((s) => s.includes(seq), `event ${seq}`, 5000);
  return { sub, handled };
}

const answers = (/** @type {any[]} */ sent) => sent.filter((m) => m.type === "answer_check");
const receipts = (/** @type {any[]} */ sent) => sent.filter((m) => m.type === "receipt");

const LOG = [
  requested(ANSWERED, "roads", 1),
  event(2, "check.answered", { check: ANSWERED, party: "roads", requested_at: "2026-11-21T09:00:00.000Z", answered_in_ms: 1200 }, { party: "roads", operator: "dev" }),
  requested(MISSED, "roads", 3),
  event(4, "check.missed", { check: MISSED, party: "roads", due_at: "2026-11-21T09:05:00.000Z", to: ["dev"] }),
  requested(THEIRS, "water", 5),
  requested(OURS.toUpperCase(), "roads", 6),
];

test("a subscription told to answer checks answers only its own party's open ones, once caught up", async () => {
  const server = memoryServer(LOG, (m) => ({ type: "result", created: true, check: { id: m.check, party: "roads" } }));
  const { sub, handled } = subscribe(server, { answerChecks: true });

  await handled(LOG.length);
  // Every answer owed is sent in one go once the log is caught up: all or none are here.
  const sent = await server.sent.until((s) => answers(s).length > 0, "an answer", 5000);
  sub.close();
  await sub.closed;

  assert.deepEqual(
    answers(sent).map((m) => ({ type: m.type, channel: m.channel, check: m.check })),
    [{ type: "answer_check", channel: CHANNEL, check: OURS }],
  );
  assert.match(answers(sent)[0].ref, /^c\d+$/);
});

test("without answerChecks, a subscription answers nothing", async () => {
  const server = memoryServer(LOG, () => ({ type: "result", created: true, check: { id: OURS, party: "roads" } }));
  const { sub, handled } = subscribe(server, {});

  await handled(LOG.length);
  server.push(event(LOG.length + 1, "notice.overdue", { notice: THEIRS })); // one more turn
  await handled(LOG.length + 1);
  sub.close();
  await sub.closed;

  assert.deepEqual(answers(server.sent.items), []);
});

test("a check that arrives live is answered at once; a refused answer is not sent again", async () => {
  const server = memoryServer([], () => ({
    type: "error",
    status: 409,
    code: "check-closed",
    detail: "the check had to be answered by 09:05",
  }));
  const { sub, handled } = subscribe(server, { answerChecks: true });
  await server.sent.until((s) => s.some((m) => m.type === "subscribe"), "the subscription", 5000);

  server.push(requested(OURS, "roads", 1));
  await server.sent.until((s) => answers(s).length === 1, "the answer", 5000);
  server.push(event(2, "notice.overdue", { notice: THEIRS }));
  server.push(event(3, "notice.overdue", { notice: THEIRS }));
  await handled(3);
  sub.close();
  await sub.closed;

  assert.equal(answers(server.sent.items).length, 1);
});

test("a receipt refused as too many commands is sent again with the channel's next event, once", async () => {
  /** @type {string[]} */
  const refused = [];
  const server = memoryServer([sentByWater(NOTICE, 1)], (m) => {
    if (refused.length === 0) {
      refused.push(m.notice);
      return tooBusy(m);
    }
    return { type: "result", created: true, notice: { id: m.notice, channel: CHANNEL, sender: WATER, status: "received", seq: 1 } };
  });
  const { sub, handled } = subscribe(server, { confirmReceipts: true });
  await handled(1);
  await server.sent.until((s) => receipts(s).length === 1, "the first receipt", 5000);

  // Replies come in order: the refusal is read before this event, which asks no receipt.
  server.push(event(2, "notice.overdue", { notice: NOTICE }));
  await server.sent.until((s) => receipts(s).length === 2, "the receipt again", 5000);
  server.push(event(3, "notice.overdue", { notice: NOTICE })); // taken: not sent again
  server.push(event(4, "notice.overdue", { notice: NOTICE })); // once handled, 3 is done
  await handled(4);
  sub.close();
  await sub.closed;

  assert.deepEqual(refused, [NOTICE]);
  const sent = receipts(server.sent.items);
  assert.deepEqual(sent.map((m) => m.notice), [NOTICE, NOTICE]);
  assert.notEqual(sent[0].ref, sent[1].ref);
  for (const m of sent) assert.match(m.ref, /^r\d+$/);
});

test("a receipt is not sent twice while one is in flight, and goes again only after a 429", async () => {
  const server = memoryServer([], () => null); // the test answers, when it says so
  const { sub, handled } = subscribe(server, { confirmReceipts: true });
  await server.sent.until((s) => s.some((m) => m.type === "subscribe"), "the subscription", 5000);

  server.push(sentByWater(NOTICE, 1));
  const [first] = receipts(await server.sent.until((s) => receipts(s).length === 1, "the receipt", 5000));
  server.push(event(2, "notice.overdue", { notice: NOTICE }));
  server.push(event(3, "notice.overdue", { notice: NOTICE })); // once handled, 2 is done
  await handled(3);
  assert.equal(receipts(server.sent.items).length, 1); // no answer yet: still in flight

  server.reply(tooBusy(first));
  server.push(event(4, "notice.overdue", { notice: NOTICE }));
  await server.sent.until((s) => receipts(s).length === 2, "the receipt again", 5000);
  sub.close();
  await sub.closed;
});

test("a receipt refused for any other reason is not sent again", async () => {
  const server = memoryServer([], (m) => ({
    type: "error",
    status: 404,
    code: "notice-not-found",
    detail: `no notice ${m.notice} on this channel`,
  }));
  const { sub, handled } = subscribe(server, { confirmReceipts: true });
  await server.sent.until((s) => s.some((m) => m.type === "subscribe"), "the subscription", 5000);

  server.push(sentByWater(NOTICE, 1));
  await server.sent.until((s) => receipts(s).length === 1, "the receipt", 5000);
  server.push(event(2, "notice.overdue", { notice: NOTICE }));
  server.push(event(3, "notice.overdue", { notice: NOTICE }));
  server.push(event(4, "notice.overdue", { notice: NOTICE }));
  await handled(4);
  sub.close();
  await sub.closed;

  assert.equal(receipts(server.sent.items).length, 1);
});

test("an answer refused as too many commands is sent again with the channel's next event", async () => {
  let calls = 0;
  const server = memoryServer([], (m) =>
    ++calls === 1 ? tooBusy(m) : { type: "result", created: true, check: { id: m.check, party: "roads" } },
  );
  const { sub, handled } = subscribe(server, { answerChecks: true });
  await server.sent.until((s) => s.some((m) => m.type === "subscribe"), "the subscription", 5000);

  server.push(requested(OURS, "roads", 1));
  await server.sent.until((s) => answers(s).length === 1, "the answer", 5000);
  server.push(event(2, "notice.overdue", { notice: NOTICE }));
  await server.sent.until((s) => answers(s).length === 2, "the answer again", 5000);
  server.push(event(3, "notice.overdue", { notice: NOTICE })); // taken: not sent again
  server.push(event(4, "notice.overdue", { notice: NOTICE }));
  await handled(4);
  sub.close();
  await sub.closed;

  assert.deepEqual(answers(server.sent.items).map((m) => m.check), [OURS, OURS]);
});

test("the result of an answer carries the check, and a notice's result still reads", () => {
  const check = { id: OURS, party: "roads", answered_at: "2026-11-21T09:01:00.000Z" };

  const answered = parseServerMessage(JSON.stringify({ type: "result", ref: "c1", created: true, check }));
  const neither = parseServerMessage(JSON.stringify({ type: "result", ref: "c1", created: true }));
  const bad = parseServerMessage(JSON.stringify({ type: "result", ref: "c1", created: true, check: { id: 7 } }));

  assert.ok("message" in answered && answered.message.type === "result");
  assert.deepEqual(answered.message.check, check);
  assert.equal(answered.message.notice, null);
  assert.deepEqual(neither, { ignored: "result: a notice or a check" });
  assert.deepEqual(bad, { ignored: "check: an id and a party" });
});

test("the SDK knows every event type of the protocol, the clock's and the policy's too", () => {
  for (const type of [
    "notice.reminded",
    "notice.escalated",
    "check.requested",
    "check.answered",
    "check.missed",
    "conflict.detected",
    "conflict.resolved",
    "channel.policy_proposed",
    "channel.policy_changed",
    "channel.policy_withdrawn",
  ]) {
    assert.ok(EVENT_TYPES.includes(type), type);
  }
  assert.equal(new Set(EVENT_TYPES).size, 18);
});
