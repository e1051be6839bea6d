// The client's webhook and e-mail calls against a fake fetch (the request each one makes, what
// is tried again and what is not) and against a real server process; and the console's words
// for `webhook.disabled`: its log line, its announcement (to the subscribing party only), and
// its place in the book (it changes no notice; an event of a type the console does not know
// still shows, ignored).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { announcement } from "../../client/web/console/announcements.js";
import { eventDetail } from "../../client/web/console/describe.js";
import { NoticeBook } from "../../client/web/console/notices.js";
import { EVENT_TYPES, HotlineClient, ProblemError } from "../../client/web/sdk/hotline.js";
import { Site } from "./support/server.js";

const CHANNEL = "water-roads";
const HOOK = "3f2a9c1e-7b4d-4e8f-9a10-6c5d4e3f2a1b";
const API = `/api/v1/channels/${CHANNEL}`;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ME = {
  operator: { id: "wanda", name: "Wanda" },
  role: "admin",
  party: { id: "water", name: "Riverside Water" },
};

/**
 * @typedef {{method: string, url: URL, body: any}} Asked
 */

/**
 * A client whose fetch answers from `answers` in turn (a Response, or an Error to throw), and
 * records what it was asked.
 * @param {Array<Response | Error>} answers
 */
function fake(answers) {
  /** @type {Asked[]} */
  const asked = [];
  const client = new HotlineClient({
    baseUrl: "https://hotline.example",
    token: "hl_admin",
    retries: 2,
    backoff: /** @type {any} */ ({ delay: () => 0 }),
    fetch: async (input, init) => {
      asked.push({
        method: init?.method ?? "GET",
        url: new URL(String(input)),
        body: init?.body === undefined ? undefined : JSON.parse(String(init.body)),
      });
      const next = answers.shift();
      if (next === undefined) throw new Error("asked more than the test expected");
      if (next instanceof Error) throw next;
      return next;
    },
  });
  return { client, asked };
}

/** @param {number} status @param {string} code */
const problem = (status, code) =>
  Response.json({ status, code, title: code, detail: `refused: ${code}` }, {
    status,
    headers: { "Content-Type": "application/problem+json" },
  });

const noContent = () => new Response(null, { status: 204 });

/** @param {Asked[]} asked */
const lines = (asked) => asked.map((a) => `${a.method} ${a.url.pathname}${a.url.search}`);

const HOOK_OUT = {
  id: HOOK,
  url: "https://ops.water.example/hotline",
  types: ["notice.sent"],
  enabled: true,
  created_at: "2026-11-21T09:00:00.000Z",
};

test("createWebhook posts the URL and types once, and answers with the secret", async () => {
  const { client, asked } = fake([Response.json({ ...HOOK_OUT, secret: SECRET }, { status: 201 })]);

  const made = await client.createWebhook(CHANNEL, {
    url: HOOK_OUT.url,
    types: ["notice.sent"],
  });

  assert.equal(made.secret, SECRET);
  assert.deepEqual(lines(asked), [`POST ${API}/webhooks`]);
  assert.deepEqual(asked[0].body, { url: HOOK_OUT.url, types: ["notice.sent"] });
});

test("a subscription is not made twice: createWebhook and rotate are not tried again", async () => {
  const { client, asked } = fake([problem(503, "unavailable"), problem(503, "unavailable")]);

  const made = await client.createWebhook(CHANNEL, { url: HOOK_OUT.url }).catch((e) => e);
  const rotated = await client.rotateWebhookSecret(CHANNEL, HOOK).catch((e) => e);

  assert.ok(made instanceof ProblemError && made.status === 503, String(made));
  assert.ok(rotated instanceof ProblemError && rotated.status === 503, String(rotated));
  assert.deepEqual(lines(asked), [`POST ${API}/webhooks`, `POST ${API}/webhooks/${HOOK}/rotate`]);
  assert.deepEqual(asked[0].body, { url: HOOK_OUT.url, types: [] }, "no types: every event");
  assert.deepEqual(asked[1].body, { overlap_seconds: 86400 }, "a day's overlap by default");
});

test("a private address is refused with the server's problem", async () => {
  const { client } = fake([problem(422, "webhook-address-refused")]);

  const refused = await client
    .createWebhook(CHANNEL, { url: "http://10.0.0.7/hook" })
    .catch((e) => e);

  assert.ok(refused instanceof ProblemError, String(refused));
  assert.equal(refused.code, "webhook-address-refused");
});

test("the reads are tried again; ids are checked before anything is sent", async () => {
  const { client, asked } = fake([
    new TypeError("fetch failed"),
    Response.json([HOOK_OUT]),
    Response.json(HOOK_OUT),
    Response.json({ items: [] }),
    Response.json({ items: [] }),
  ]);

  assert.deepEqual(await client.webhooks(CHANNEL), [HOOK_OUT]);
  assert.deepEqual(await client.webhook(CHANNEL, HOOK.toUpperCase()), HOOK_OUT);
  await client.webhookDeliveries(CHANNEL, HOOK, { limit: 20, before: "c-1" });
  await client.deliveries(CHANNEL, { kind: "mail" });
  await assert.rejects(client.webhook(CHANNEL, "../deliveries"), /not a webhook id/);

  assert.deepEqual(lines(asked), [
    `GET ${API}/webhooks`,
    `GET ${API}/webhooks`,
    `GET ${API}/webhooks/${HOOK}`,
    `GET ${API}/webhooks/${HOOK}/deliveries?limit=20&before=c-1`,
    `GET ${API}/deliveries?kind=mail`,
  ]);
});

test("updateWebhook sends only what changes, and may be tried again", async () => {
  const { client, asked } = fake([problem(502, "bad-gateway"), Response.json(HOOK_OUT)]);

  await client.updateWebhook(CHANNEL, HOOK, { enabled: true, url: undefined });

  assert.deepEqual(lines(asked), [`PATCH ${API}/webhooks/${HOOK}`, `PATCH ${API}/webhooks/${HOOK}`]);
  assert.deepEqual(asked[1].body, { enabled: true });
});

test("rotateWebhookSecret sends the overlap asked; a bad one is refused here", async () => {
  const { client, asked } = fake([Response.json({ secret: SECRET })]);

  assert.deepEqual(await client.rotateWebhookSecret(CHANNEL, HOOK, { overlapSeconds: 0 }), {
    secret: SECRET,
  });
  await assert.rejects(
    client.rotateWebhookSecret(CHANNEL, HOOK, { overlapSeconds: -1 }),
    /whole number of seconds/,
  );
  assert.deepEqual(asked.map((a) => a.body), [{ overlap_seconds: 0 }]);
});

test("deleteWebhook reads the empty answer", async () => {
  const { client, asked } = fake([noContent()]);

  assert.equal(await client.deleteWebhook(CHANNEL, HOOK), undefined);
  assert.deepEqual(lines(asked), [`DELETE ${API}/webhooks/${HOOK}`]);
});

test("setEmail puts the signed-in operator's address; clearEmail deletes it", async () => {
  const { client, asked } = fake([
    Response.json(ME),
    Response.json({ operator: "wanda", email: "wanda@water.example" }),
    Response.json(ME),
    noContent(),
  ]);

  const set = await client.setEmail("wanda@water.example");
  await client.clearEmail();

  assert.deepEqual(set, { operator: "wanda", email: "wanda@water.example" });
  assert.deepEqual(lines(asked), [
    "GET /api/v1/me",
    "PUT /api/v1/operators/wanda/email",
    "GET /api/v1/me",
    "DELETE /api/v1/operators/wanda/email",
  ]);
  assert.deepEqual(asked[1].body, { email: "wanda@water.example" });
});

test("setOperatorEmail sets another operator's address, tried again; null clears it", async () => {
  const { client, asked } = fake([
    problem(503, "unavailable"),
    Response.json({ operator: "ana", email: "ana@water.example" }),
    noContent(),
    problem(422, "invalid-request"),
  ]);

  await client.setOperatorEmail("ana", "ana@water.example");
  assert.deepEqual(await client.setOperatorEmail("ana", null), { operator: "ana", email: null });
  const refused = await client.setOperatorEmail("ana", "not an address").catch((e) => e);

  assert.ok(refused instanceof ProblemError && refused.status === 422, String(refused));
  assert.deepEqual(lines(asked), [
    "PUT /api/v1/operators/ana/email",
    "PUT /api/v1/operators/ana/email",
    "DELETE /api/v1/operators/ana/email",
    "PUT /api/v1/operators/ana/email",
  ]);
});

// -- the console ---------------------------------------------------------------------------

const PARTIES = [
  { id: "water", name: "Riverside Water" },
  { id: "roads", name: "City Roads Department" },
];
const CHANNEL_INFO = {
  id: CHANNEL,
  parties: PARTIES,
  policy: { ack_deadline_seconds: {}, min_advance_notice_seconds: {}, require_signatures: false },
  head: 0,
};
const DISABLED = {
  webhook: HOOK,
  party: "water",
  failures: 10,
  reason: "10 deliveries given up in a row; the last: HTTP 503",
};

/** A book with one event of `type`, logged by the server. */
function logged(/** @type {string} */ type, /** @type {Record<string, unknown>} */ data) {
  const book = new NoticeBook(CHANNEL);
  const entry = book.apply({
    channel: CHANNEL,
    seq: 1,
    type,
    at: "2026-11-21T09:00:00.000Z",
    actor: null,
    data,
  });
  return { book, entry };
}

test("the SDK knows webhook.disabled", () => {
  assert.ok(EVENT_TYPES.includes("webhook.disabled"));
});

test("webhook.disabled changes no notice and reads as the subscription stopped, and why", () => {
  const { book, entry } = logged("webhook.disabled", DISABLED);

  assert.equal(entry.effect, "applied");
  assert.deepEqual(entry.notices, []);
  assert.equal(book.notices.size, 0);
  assert.equal(
    eventDetail(entry, CHANNEL_INFO, book),
    "Riverside Water's webhook 3f2a9c1e was disabled after 10 deliveries given up: " +
      "10 deliveries given up in a row; the last: HTTP 503",
  );
});

test("a webhook gone (410) is disabled after one delivery given up, and said so", () => {
  const { book, entry } = logged("webhook.disabled", {
    ...DISABLED,
    failures: 1,
    reason: "the receiver answered 410 Gone",
  });

  assert.match(eventDetail(entry, CHANNEL_INFO, book), /after 1 delivery given up: the receiver answered 410 Gone$/);
});

test("webhook.disabled is announced to the subscribing party only", () => {
  const { book, entry } = logged("webhook.disabled", DISABLED);

  assert.equal(
    announcement(entry, book, CHANNEL_INFO, "water"),
    "Riverside Water's webhook 3f2a9c1e was DISABLED by the server after 10 deliveries given up; " +
      "an admin can enable it again.",
  );
  assert.equal(announcement(entry, book, CHANNEL_INFO, "roads"), null);
});

test("a webhook.disabled without its fields is unreadable and changes nothing", () => {
  const { entry } = logged("webhook.disabled", { party: "water", failures: 10 });

  assert.equal(entry.effect, "unreadable");
  assert.match(String(entry.problem), /webhook is missing/);
});

test("an event of a type the console does not know is kept, with no words of its own", () => {
  const { book, entry } = logged("webhook.rotated", { webhook: HOOK });

  assert.equal(entry.effect, "unknown");
  assert.equal(book.entries.length, 1);
  assert.equal(eventDetail(entry, CHANNEL_INFO, book), "");
  assert.equal(announcement(entry, book, CHANNEL_INFO, "water"), null);
});

// -- against a real server -------------------------------------------------------------------

/** @typedef {{url: string, channel: string, tokens: Record<string, string>, logKey: string}} Demo */

/** A site of its own: these tests make subscriptions and set addresses. */
const site = await Site.create();
const skip = await site.startDemo().then(
  () => false,
  async (/** @type {Error} */ error) => {
    await site.close();
    if (process.env.HOTLINE_REQUIRE_SERVER) throw error;
    return `no Hotline server to test against: ${error.message}`;
  },
);

/**
 * A public address literal, so nothing is resolved: accepted, and never called, since the
 * subscription is disabled before any event and removed after.
 */
const NEVER_CALLED = "https://93.184.215.14/hotline";

describe("webhooks and e-mail, against a real server", { skip }, () => {
  /** @type {Demo} */
  let demo;
  before(() => {
    demo = /** @type {any} */ (site.demo);
  });
  after(() => site.close());

  /** @param {string} operator */
  const as = (operator) => new HotlineClient({ baseUrl: demo.url, token: demo.tokens[operator] });

  test("an admin makes, changes, rotates and removes a webhook; its secret is shown twice only", async () => {
    const wanda = as("wanda");

    const made = await wanda.createWebhook(demo.channel, { url: NEVER_CALLED, types: ["notice.sent"] });
    const off = await wanda.updateWebhook(demo.channel, made.id, { enabled: false });
    const listed = await wanda.webhooks(demo.channel);
    const rotated = await wanda.rotateWebhookSecret(demo.channel, made.id, { overlapSeconds: 600 });
    const shown = await wanda.webhook(demo.channel, made.id);
    const calls = await wanda.webhookDeliveries(demo.channel, made.id, { limit: 5 });
    const mail = await wanda.deliveries(demo.channel, { kind: "mail" });
    await wanda.deleteWebhook(demo.channel, made.id);
    const again = await wanda.deleteWebhook(demo.channel, made.id).catch((e) => e);

    assert.match(made.secret, /^whsec_/);
    assert.deepEqual(made.types, ["notice.sent"]);
    assert.equal(off.enabled, false);
    assert.deepEqual(listed.map((w) => w.id), [made.id]);
    assert.match(rotated.secret, /^whsec_/);
    assert.notEqual(rotated.secret, made.secret);
    assert.equal(shown.previous_secret_until, rotated.previous_secret_until);
    assert.ok(!JSON.stringify([listed, shown]).includes("whsec_"), "no secret after it was made");
    assert.deepEqual(calls, { items: [], next_before: null });
    assert.deepEqual(mail, { items: [], next_before: null });
    assert.ok(again instanceof ProblemError && again.status === 404, String(again));
    assert.deepEqual(await wanda.webhooks(demo.channel), []);
  });

  test("an operator may not subscribe, and a private address is refused", async () => {
    const operator = await as("ana").createWebhook(demo.channel, { url: NEVER_CALLED }).catch((e) => e);
    const privateAddress = await as("wanda")
      .createWebhook(demo.channel, { url: "http://10.0.0.7/hotline" })
      .catch((e) => e);

    assert.ok(operator instanceof ProblemError && operator.status === 403, String(operator));
    assert.ok(privateAddress instanceof ProblemError, String(privateAddress));
    assert.equal(privateAddress.code, "webhook-address-refused");
  });

  test("an operator sets and clears its address; an admin sets one of its operators'", async () => {
    const ana = as("ana");

    const set = await ana.setEmail("ana.lopez@water.example");
    const me = await ana.me();
    const ben = await as("wanda").setOperatorEmail("ben", "ben@water.example");
    const refused = await ana.setOperatorEmail("ben", "ben@elsewhere.example").catch((e) => e);
    await ana.clearEmail();

    assert.deepEqual(set, { operator: "ana", email: "ana.lopez@water.example" });
    assert.equal(me.email, "ana.lopez@water.example");
    assert.equal(ben.email, "ben@water.example");
    assert.ok(refused instanceof ProblemError && refused.status === 403, String(refused));
    assert.equal((await ana.me()).email, null);
    assert.equal((await as("ben").me()).email, "ben@water.example");
  });
});
